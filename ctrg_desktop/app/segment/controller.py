"""Segmentation in the main window (``window.segmentation``): SAM prompts, brush, masks as layers.

:class:`SegmentationController` owns the study's :class:`~ctrg_desktop.segmentation.masks.MaskSet`,
the segmenter worker (LiteMedSAM in its own process, see :mod:`ctrg_desktop.app.segment.process`),
the Masks dock and the Segment tools, and links them:

* a SAM tool chosen or the slice changed -> the slice is embedded in the background;
* point / box prompts on a slice -> the chosen mask's slice is replaced by SAM's mask (a new
  mask when none is chosen); every result is one undo step;
* "Segment structure" -> the focused draft structure's top patches crossing the slice prompt
  a new mask named, coloured and assigned after the structure;
* "Propagate in 3D" -> the chosen mask grows slice by slice in both directions, each slice
  painted into it as soon as the worker has it (:class:`~ctrg_desktop.app.segment.live.LivePropagation`;
  progress with seconds per slice and Cancel, which keeps the slices done, in the status bar);
* "Segment structure" shows its steps (starting the worker, embedding, drawing) with a moving
  progress bar and Cancel (:class:`~ctrg_desktop.app.segment.live.PromptProgress`);
* every mask is a :class:`~ctrg_desktop.overlays.LabelMapLayer` ``mask: NAME`` of the window's
  layers (filled and outlined in the slice views at once; its 3D surface is rebuilt when the
  edits pause).

The slice embeddings use the viewer's current grey window (what the reader sees is what SAM sees).
Where each part lives: masks and their layers :mod:`.mask_layers`; tools, prompts, brush, the
background embedding and "Segment structure" :mod:`.prompting`; "Propagate in 3D" :mod:`.propagation`;
this module wires them (the worker's signals, the study, the dock, shutdown).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.interaction.state import ViewerState
from ctrg_desktop.app.segment.live import LivePropagation, PromptProgress
from ctrg_desktop.app.segment.mask_layers import SURFACE_DELAY_MS, MaskLayers
from ctrg_desktop.app.segment.mask_panel import MaskPanel
from ctrg_desktop.app.segment.outlines import MaskOutlines
from ctrg_desktop.app.segment.prompting import Prompting
from ctrg_desktop.app.segment.propagation import Propagation
from ctrg_desktop.app.segment.tools import SEGMENT_TOOLS, BoxTool, BrushTool, PointTool, PromptMarkers, PromptSession
from ctrg_desktop.app.segment.worker import SegmentJob, SegmentWorker
from ctrg_desktop.overlays import LabelMapLayer
from ctrg_desktop.segmentation.masks import MaskSet

Qt = QtCore.Qt
#: wait this long after the slice stops changing before embedding it in the background
PREFETCH_DELAY_MS = 150


class SegmentationController(MaskLayers, Prompting, Propagation, QtCore.QObject):
    """Signals: ``mask_done(ok)`` when a prompt or "Segment structure" ends (ok: a mask changed),
    ``propagation_done(ok)``, ``embedded(job)`` after a background embedding, ``masks_changed()``.

    Its parts: :class:`~.mask_layers.MaskLayers` (masks as layers, undo), :class:`~.prompting.Prompting`
    (tools, prompts, "Segment structure"), :class:`~.propagation.Propagation` ("Propagate in 3D")."""

    mask_done = QtCore.Signal(bool)
    propagation_done = QtCore.Signal(bool)
    embedded = QtCore.Signal(object)
    masks_changed = QtCore.Signal()

    def __init__(self, window, process=None):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.worker = SegmentWorker(self, process)
        self.worker.finished.connect(self._on_finished)
        self.worker.progress.connect(self._on_progress)
        self.worker.slice_done.connect(self._on_slice)
        self.worker.ready.connect(self._on_ready)
        self.masks: MaskSet | None = None
        self.volume = None  #: the study the masks belong to
        self.active: str | None = None
        self.session: PromptSession | None = None
        self.brush_mm = 5.0
        self.max_slices = 64         #: slices per direction a propagation may add
        #: when a study opens, start the worker, load the segmenter and embed the current slice
        #: ahead of the first click (the app sets it, as for drafting; tests leave it off)
        self.prewarm = False
        self.timings: dict[str, float] = {}
        self.segmenter_info: dict = {}
        self.last_job: SegmentJob | None = None       #: the last job that ended
        self.last_mask_job: SegmentJob | None = None  #: the last prompt or "Segment structure" job that ended
        self._layers: dict[int, LabelMapLayer] = {}
        self._study_key: str | None = None
        self._propagating: SegmentJob | None = None
        self.live: LivePropagation | None = None  #: the running propagation's painted slices
        self.prompt_progress = PromptProgress(window.status, self)
        self.markers = PromptMarkers(window.slice_views)
        self.outlines = MaskOutlines(window.slice_views)
        self.tools = {"positive point": PointTool(self, True), "negative point": PointTool(self, False),
                      "box prompt": BoxTool(self), "brush": BrushTool(self, erase=False),
                      "erase": BrushTool(self, erase=True)}
        self.state.TOOLS = (*ViewerState.TOOLS, *SEGMENT_TOOLS)  # this window's state knows the tools
        for view in window.slice_views.values():
            view.tools.handlers.update(self.tools)
        self._prefetch_timer = QtCore.QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(PREFETCH_DELAY_MS)
        self._prefetch_timer.timeout.connect(self.prefetch_current)
        self._stale_surfaces: set[int] = set()
        self._surface_timer = QtCore.QTimer(self)
        self._surface_timer.setSingleShot(True)
        self._surface_timer.setInterval(SURFACE_DELAY_MS)
        self._surface_timer.timeout.connect(self.flush_surfaces)
        self.state.tool_changed.connect(self._on_tool)
        self.state.cursor_changed.connect(self._on_cursor)
        self.state.window_changed.connect(lambda *_: self._schedule_prefetch())
        window.study_opened.connect(self._on_study_opened)
        self.panel = MaskPanel(self)
        window.drafting.draft_shown.connect(lambda _draft: self.panel.refresh())  # its structures to assign

    def add_dock(self) -> None:
        """The Masks dock, tabbed with the Structures dock."""
        window = self.window
        dock = QtWidgets.QDockWidget("Masks", window)
        dock.setObjectName("dock-masks")
        dock.setWidget(self.panel)
        window.docks["Masks"] = dock
        if "Structures" in window.docks:
            window.tabifyDockWidget(window.docks["Structures"], dock)
        else:
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def show_dock(self) -> None:
        dock = self.window.docks["Masks"]
        dock.show()
        dock.raise_()

    def study_key(self, volume) -> str:
        """The open study's name in the worker's embedding cache: the same file (unchanged since)
        opened again reuses the slices embedded before."""
        path = self.window.study_path
        try:
            stamp = path.stat().st_mtime_ns if path is not None else id(volume)
        except OSError:
            stamp = id(volume)
        return f"{path}|{volume.series.series_instance_uid}|{volume.shape}|{stamp}"

    def _on_study_opened(self, volume) -> None:
        self.worker.set_study(volume, self.study_key(volume))
        if self._propagating is not None:
            self.window.status.stop_progress()
            self._propagating = self.live = None
        self.prompt_progress.stop()
        if self.masks is not None:
            self.masks.changed.disconnect(self._on_mask_changed)
        self._layers.clear()  # the window dropped every layer of the previous study
        self._stale_surfaces.clear()
        self.masks = MaskSet(volume.shape)
        self.volume = volume
        self.masks.changed.connect(self._on_mask_changed)
        self.outlines.masks = self.masks
        self.outlines.update()
        self.active, self.session = None, None
        self.markers.session = None
        self.markers.update()
        self.panel.refresh()
        self._schedule_prefetch()
        if self.prewarm:
            self.warm_up()

    def warm_up(self) -> SegmentJob | None:
        """Start the worker, load the segmenter and embed the current view's slice in the
        background (the first prompt then waits for the decoder only)."""
        job = self.prefetch_current()
        if job is not None:
            job.context.setdefault("warm-up", True)
        return job

    async def _await(self, signal, start) -> bool:
        from ctrg_desktop.app.jobs import wait_for_signal

        ok = await wait_for_signal(signal, start)
        self.flush_surfaces()  # the 3D view shows the result at once
        return ok

    def _on_ready(self, info: dict) -> None:
        self.segmenter_info = dict(info)

    def _on_finished(self, job: SegmentJob) -> None:
        self.last_job = job
        if job.kind == "embed":
            if job.ok:
                self.timings["embed"] = float(job.result["seconds"]) if not job.result["cached"] else \
                    self.timings.get("embed", 0.0)
            elif job.error and not job.dropped and not job.context.get("warm-up"):  # a warm-up fails quietly:
                self.window.status.message(f"Cannot prepare the segmenter: {job.error}")  # a click says why
            self.embedded.emit(job)
            return
        if job.kind == "propagate":
            self._propagation_finished(job)
            return
        ok = False
        self.last_mask_job = job
        if job is self.prompt_progress.job:
            self.prompt_progress.stop()
        if job.dropped:
            pass
        elif job.context.get("cancelled"):
            job.cancelled = True
        elif job.error:
            self.window.show_error(f"Cannot segment: {job.error}")
        elif job.kind == "predict":
            ok = self._apply_prompt(job)
        elif job.kind == "patches":
            ok = self._apply_structure(job)
        self.mask_done.emit(ok)

    def shutdown(self) -> None:
        """The window is closing: no more timers, the worker process quits."""
        self._prefetch_timer.stop()
        self._surface_timer.stop()
        self._stale_surfaces.clear()
        self.prompt_progress.stop()
        self.worker.shutdown()
