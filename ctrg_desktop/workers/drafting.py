"""The drafting worker's loop (no Qt): runs ``draft_report`` in a child process, away from the
GUI's interpreter; the parent side is :class:`ctrg_desktop.app.drafting.process.DraftProcess`.

The process keeps the loaded model (one at a time) between drafts. Protocol over a
``multiprocessing`` pipe, parent -> child: ``("draft", DraftRequest)``, ``("warm", model name)``
(load it ahead of a draft), ``("quit", None)``; child -> parent: ``("ready", {"cuda": bool,
"cuda_name": str})`` once, then per draft ``("stage", name)`` ..., and ``("done", DraftReport)``
or ``("error", line)``; per warm-up ``("done", None)`` or ``("error", line)``. The study's voxels
travel through shared memory (one copy, no pickling of the array).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from multiprocessing import shared_memory

import numpy as np

from ctrg_desktop.io.volume import SeriesInfo, Volume
from ctrg_desktop.workers.pipe import one_line


@dataclass
class DraftRequest:
    """What the child needs to rebuild the study and draft it (no patient identifiers)."""

    model: str
    device: str
    shm_name: str
    shape: tuple[int, int, int]
    dtype: str
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: list
    series: SeriesInfo = field(default_factory=SeriesInfo)
    options: dict = field(default_factory=dict)  #: extra keyword arguments of ``draft_report``

    def volume(self, buffer) -> Volume:
        array = np.ndarray(self.shape, dtype=np.dtype(self.dtype), buffer=buffer).copy()
        return Volume(array, spacing=self.spacing, origin=self.origin, direction=np.asarray(self.direction),
                      series=self.series)


def serve(conn, torch_threads: int | None = None) -> None:
    """Child main loop: answer draft requests until "quit" or the pipe closes."""
    import torch

    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.model.zoo import load_model

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    cuda = bool(torch.cuda.is_available())
    conn.send(("ready", {"cuda": cuda, "cuda_name": torch.cuda.get_device_name(0) if cuda else ""}))
    models: dict[str, object] = {}
    while True:
        try:
            kind, request = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "quit":
            return
        if kind == "warm":
            try:
                if request not in models:
                    loaded = load_model(request, device="cpu")
                    models.clear()  # one model in memory at a time
                    models[request] = loaded
                conn.send(("done", None))
            except Exception as exc:  # noqa: BLE001
                conn.send(("error", one_line(exc)))
            continue
        try:
            block = shared_memory.SharedMemory(name=request.shm_name)
            try:
                volume = request.volume(block.buf)
            finally:
                block.close()
            model = models.get(request.model)
            if model is None:
                conn.send(("stage", "load"))
                model = load_model(request.model, device="cpu")  # a bad name keeps the loaded model
                models.clear()  # one model in memory at a time
                models[request.model] = model
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # transformers' deprecation notes
                draft = draft_report(volume, model, device=request.device,
                                     progress=lambda stage: conn.send(("stage", stage)), **request.options)
            conn.send(("done", draft))
        except Exception as exc:  # noqa: BLE001 -- every failure goes back as one line
            conn.send(("error", one_line(exc)))
