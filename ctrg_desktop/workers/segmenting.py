"""The segmenter worker's loop (no Qt): holds the segmenter (LiteMedSAM) and its embedding cache
in a child process; the parent side is :class:`ctrg_desktop.app.segment.process.SegmenterProcess`.

The process loads the segmenter once, keeps the open study (in shared memory, no copy) and every
slice embedding it computed (an LRU cache), and answers one request at a time. Protocol
(:mod:`ctrg_desktop.workers.process`), parent -> child: ``(kind, payload)`` with kind ``load`` (segmenter
name, device), ``study`` (:class:`StudyRef`), ``embed``, ``predict``, ``patches``, ``propagate``
(dicts, see :class:`SegmentServer`) or ``quit``; child -> parent: ``("ready", info)`` once, then
per request optional ``("progress", (done, planned))`` (a propagation's slices; ``(1, 2)`` when
a prompt's slice has been embedded), a propagation's ``("slice", info)`` for each slice it adds
(``index``, packed ``mask``, ``done``, ``planned``, ``seconds``: the GUI paints it at once), and one
``("done", result)``, ``("cancelled", result)`` or ``("error", line)``. Masks travel packed
(:func:`~ctrg_desktop.workers.pipe.pack`). A propagation stops at the next slice when the shared
``cancel`` event is set; it embeds ``ahead`` slices in front of the one being decoded (payload
``ahead``, default :data:`AHEAD`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from ctrg_desktop.segmentation.prompts import prompts_from_patches, take_slice
from ctrg_desktop.segmentation.propagate import PropagationCancelled, propagate
from ctrg_desktop.workers.pipe import answer_requests, pack, unpack
from ctrg_desktop.workers.shared import SharedArray

#: slices a propagation embeds ahead of the one being decoded (a background thread; see
#: :func:`ctrg_desktop.segmentation.propagate` and ``benchmarks/run.py propagate``)
AHEAD = 2


@dataclass(frozen=True)
class StudyRef:
    """The open study in shared memory: ``key`` names it in the embedding cache; ``voxels`` is its
    (z, y, x) array."""

    key: str
    voxels: SharedArray


class SegmentServer:
    """The worker's state (the segmenter, the study) and one handler per request kind."""

    def __init__(self, conn, cancel):
        self.conn, self.cancel = conn, cancel
        self.segmenter = None
        self.study: StudyRef | None = None
        self.volume = None
        self._block = None

    def handlers(self) -> dict:
        """Request kind -> handler, for :func:`~ctrg_desktop.workers.pipe.answer_requests`."""
        return {"load": self.load, "study": self.set_study, "embed": self.embed, "predict": self.predict,
                "patches": self.patches, "propagate": self.propagate}

    def load(self, payload) -> dict:
        from ctrg_desktop.segmentation.segmenter import load_segmenter  # torch

        name, device = payload
        start = time.perf_counter()
        segmenter = load_segmenter(name, device=device)
        self.segmenter = segmenter
        return {"name": segmenter.name, "kind": segmenter.kind, "title": segmenter.spec.title,
                "device": str(segmenter.device), "seconds": time.perf_counter() - start}

    def set_study(self, ref: StudyRef) -> dict:
        if self.study is not None and self.segmenter is not None and ref.key != self.study.key:
            self.segmenter.cache.discard(self.study.key)
        old = self._block
        block, self.volume = ref.voxels.attach()
        self._block, self.study = block, ref
        if old is not None:
            old.close()
        return {"key": ref.key}

    def _need(self):
        if self.segmenter is None:
            raise RuntimeError("no segmenter is loaded in the worker")
        if self.volume is None:
            raise RuntimeError("no study was sent to the worker")
        return self.segmenter

    def _embedding(self, p: dict, announce: bool = False):
        seg = self._need()
        key = seg.slice_key(self.study.key, p["axis"], p["index"], p.get("window"))
        found = seg.cached(key)
        if found is not None:
            return found, 0.0, True
        start = time.perf_counter()
        emb = seg.embed(take_slice(self.volume, p["axis"], p["index"]), key.window, key=key)
        if announce:  # the slow step of a prompt is over: the GUI's progress moves on to decoding
            self.conn.send(("progress", (1, 2)))
        return emb, time.perf_counter() - start, False

    def embed(self, p: dict) -> dict:
        _, seconds, cached = self._embedding(p)
        return {"seconds": seconds, "cached": cached}

    def predict(self, p: dict) -> dict:
        emb, embed_s, cached = self._embedding(p, announce=True)
        start = time.perf_counter()
        mask, score = _predict(self.segmenter, emb, p.get("points") or None, p.get("box"))
        return {"mask": pack(mask), "score": score, "embed_seconds": embed_s, "cached": cached,
                "predict_seconds": time.perf_counter() - start, "box": p.get("box"), "points": p.get("points")}

    def patches(self, p: dict) -> dict:
        """A mask from a structure's top patches on one slice (no prompt: ``mask`` None)."""
        self._need()
        prompt = prompts_from_patches(p["top_patches"], p["axis"], p["index"], self.volume.shape)
        if not prompt:
            return {"mask": None, "box": None, "points": [], "patches": 0}
        out = self.predict({**p, "box": prompt.box, "points": prompt.points})
        out["patches"] = len(prompt.patches)
        return out

    def propagate(self, p: dict) -> dict:
        seg = self._need()
        start = time.perf_counter()
        calls = seg.encoder_calls
        result = {"cancelled": False}
        counts = [0, 0]  # (done, planned) of the last progress

        def progress(done, planned):
            counts[:] = done, planned
            self.conn.send(("progress", (done, planned)))

        def on_slice(index, mask2d):
            self.conn.send(("slice", {"index": int(index), "mask": pack(mask2d), "done": counts[0],
                                      "planned": counts[1], "seconds": time.perf_counter() - start}))

        try:
            mask = propagate(self.volume, p["axis"], p["index"], unpack(p["start_mask"]), seg,
                             window=p.get("window"), study_key=self.study.key,
                             max_slices=p.get("max_slices", 64), use_points=p.get("use_points", False),
                             progress=progress, on_slice=on_slice, cancel=self.cancel.is_set,
                             ahead=int(p.get("ahead", AHEAD)), ahead_threads=int(p.get("ahead_threads", 1)))
        except PropagationCancelled as exc:
            mask, result["cancelled"] = exc.mask, True
        result.update(mask=pack(mask), seconds=time.perf_counter() - start, embedded=seg.encoder_calls - calls)
        return result


def _predict(segmenter, embedding, points, box):
    """(mask, the decoder's predicted IoU or None) of one prompt."""
    scored = getattr(segmenter, "predict_scored", None)
    if scored is None:
        return segmenter.predict(embedding, points=points, box=box), None
    result = scored(embedding, points=points, box=box)
    return result.mask, float(result.score)


def serve(conn, cancel, torch_threads: int | None = None) -> None:
    """Child main loop: answer requests until "quit" or the pipe closes."""
    import torch

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    child = SegmentServer(conn, cancel)
    answer_requests(conn, child.handlers(), ready={"cuda": bool(torch.cuda.is_available()), "pid": os.getpid()})
