"""The drafting worker's handlers (no Qt): run ``draft_report`` in a child process, away from the
GUI's interpreter; the parent side is :class:`ctrg_desktop.app.drafting.process.DraftProcess`, the
protocol :mod:`ctrg_desktop.workers.process`.

The process keeps the loaded model (one at a time) between drafts. Requests: ``("draft",
DraftRequest)`` and ``("warm", model name)`` (load it ahead of a draft); the "ready" info is
``{"cuda": bool, "cuda_name": str}``; a draft sends ``("stage", name)`` notes (``load`` when the
model is not loaded yet, then ``draft_report``'s stages) and answers the ``DraftReport``, a
warm-up answers None. The study's voxels travel through shared memory (:mod:`.shared`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.io.volume import SeriesInfo, Volume
from ctrg_desktop.workers.pipe import answer_requests
from ctrg_desktop.workers.shared import SharedArray


@dataclass
class DraftRequest:
    """What the child needs to rebuild the study and draft it (no patient identifiers)."""

    model: str
    device: str
    voxels: SharedArray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: list
    series: SeriesInfo = field(default_factory=SeriesInfo)
    options: dict = field(default_factory=dict)  #: extra keyword arguments of ``draft_report``

    def volume(self) -> Volume:
        return Volume(self.voxels.read(), spacing=self.spacing, origin=self.origin,
                      direction=np.asarray(self.direction), series=self.series)


class DraftServer:
    """The worker's state (the loaded model) and its two handlers."""

    def __init__(self, conn):
        self.conn = conn
        self.models: dict[str, object] = {}  # one model in memory at a time

    def _model(self, name: str, announce: bool = False):
        from ctrg_desktop.model.zoo import load_model  # torch

        model = self.models.get(name)
        if model is None:
            if announce:
                self.conn.send(("stage", "load"))
            model = load_model(name, device="cpu")  # a bad name keeps the loaded model
            self.models.clear()
            self.models[name] = model
        return model

    def warm(self, name) -> None:
        self._model(str(name))

    def draft(self, request: DraftRequest):
        from ctrg_desktop.inference import draft_report

        volume = request.volume()
        model = self._model(request.model, announce=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # transformers' deprecation notes
            return draft_report(volume, model, device=request.device,
                                progress=lambda stage: self.conn.send(("stage", stage)), **request.options)


def serve(conn, cancel, torch_threads: int | None = None) -> None:
    """Child main loop: answer draft and warm-up requests until "quit" or the pipe closes (a
    draft is stopped by killing the process; ``cancel`` is unused)."""
    import torch

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    cuda = bool(torch.cuda.is_available())
    server = DraftServer(conn)
    answer_requests(conn, {"draft": server.draft, "warm": server.warm},
                    ready={"cuda": cuda, "cuda_name": torch.cuda.get_device_name(0) if cuda else ""})
