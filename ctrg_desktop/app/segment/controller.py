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
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.interaction.state import ViewerState
from ctrg_desktop.app.segment.live import LivePropagation, PromptProgress
from ctrg_desktop.app.segment.mask_panel import MaskPanel
from ctrg_desktop.app.segment.outlines import MaskOutlines
from ctrg_desktop.app.segment.tools import (SAM_TOOLS, SEGMENT_TOOLS, BoxTool, BrushTool, PointTool, PromptMarkers,
                                            PromptSession)
from ctrg_desktop.app.segment.worker import SegmentJob, SegmentWorker
from ctrg_desktop.overlays import LabelMapLayer
from ctrg_desktop.segmentation.masks import SAM_ALGORITHM, MaskError, MaskSet, slice_view
from ctrg_desktop.workers.pipe import pack, unpack

Qt = QtCore.Qt
AXIS_NAMES = {0: "axial", 1: "coronal", 2: "sagittal"}
#: wait this long after the slice stops changing before embedding it in the background
PREFETCH_DELAY_MS = 150
#: rebuild a changed mask's 3D surface this long after its last edit (one 3D redraw for a burst of
#: clicks: a 3D frame costs about half a second on a software OpenGL)
SURFACE_DELAY_MS = 800
#: while a propagation paints its slices, its mask's 3D surface is rebuilt at most this often (a 3D frame
#: with a CPU ray caster took a sixth of the propagation's time at 2.5 s on 2 loaded cores)
LIVE_SURFACE_MS = 5000


class SegmentationController(QtCore.QObject):
    """Signals: ``mask_done(ok)`` when a prompt or "Segment structure" ends (ok: a mask changed),
    ``propagation_done(ok)``, ``embedded(job)`` after a background embedding, ``masks_changed()``."""

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

    # ------------------------------------------------------------------------------ masks, layers
    def active_mask(self):
        if self.masks is None or self.active is None or self.active not in self.masks:
            return None
        return self.masks.get(self.active)

    def set_active(self, name: str | None) -> None:
        if name is not None and (self.masks is None or name not in self.masks):
            raise MaskError(f"no mask named {name!r}")
        if name != self.active:
            self.active = name
            self._end_session()
            self.panel.refresh()

    def structure_names(self) -> list[str]:
        draft = self.window.drafting.draft
        return [s.name for s in draft.structures] if draft is not None else []

    def mask_specs(self) -> list:
        """Every non-empty mask as :class:`ctrg_desktop.export.MaskSpec` (bool ``[k, j, i]`` on the study grid)."""
        return self.masks.specs() if self.masks is not None else []

    def load_masks(self, saved, clean: bool = False) -> list:
        """Replace the study's masks with ``saved`` ones (a restored autosave, a saved file)."""
        if self.masks is None:
            return []
        self._end_session()
        made = self.masks.replace_all(saved, clean=clean)
        self.active = made[-1].name if made else None
        self.panel.refresh()
        self.masks_changed.emit()
        return made

    @property
    def propagating(self) -> bool:
        """A propagation is running: it writes into its mask when it ends."""
        return self._propagating is not None

    def layer_of(self, name: str) -> LabelMapLayer:
        return self._layers[id(self.masks.get(name))]

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

    def _on_mask_changed(self, mask, what: str) -> None:
        if what != "opacity":
            self.outlines.update()
        layers = self.window.layers
        layer = self._layers.get(id(mask))
        if what == "added":
            layer = LabelMapLayer(mask.array.view(np.uint8), colours={1: mask.rgb()}, names={1: mask.name},
                                  name=f"mask: {mask.name}", opacity=mask.opacity, visible=mask.visible)
            self._layers[id(mask)] = layer
            layers.add(layer)
        elif layer is None:
            return
        elif what == "removed":
            self._layers.pop(id(mask), None)
            if layer in layers:
                layers.remove(layer)
            if self.active == mask.name:
                self.active = self.masks.names[-1] if len(self.masks) else None
                self._end_session()
        elif what == "data":  # the slices are redrawn now, the 3D surface after the edits pause
            for view in self.window.slice_views.values():
                view.invalidate()
                view.request_render()
            if self.masks.editing:  # a brush stroke in progress
                return
            self._stale_surfaces.add(id(mask))
            if self.live is not None and self.live.mask is mask:  # slices keep coming: at most every few s
                if not self._surface_timer.isActive():
                    self._surface_timer.start(LIVE_SURFACE_MS)
            else:
                self._surface_timer.start(SURFACE_DELAY_MS)
        elif what == "name":
            index = layers.index(layer) if layer in layers else None
            if index is not None:
                layers.remove(layer)
            layer.name, layer.names = f"mask: {mask.name}", {1: mask.name}
            layers.add(layer, index)
        elif what == "colour":
            layer.set_colour(1, mask.rgb())
        elif what == "visible":
            layer.visible = mask.visible
        elif what == "opacity":
            layer.opacity = mask.opacity
        self.panel.refresh()
        self.masks_changed.emit()

    def flush_surfaces(self) -> None:
        """Rebuild the 3D surfaces of the masks edited since the last rebuild (now)."""
        self._surface_timer.stop()
        stale, self._stale_surfaces = self._stale_surfaces, set()
        for key in stale:
            layer = self._layers.get(key)
            if layer is not None and layer in self.window.layers:
                layer.changed.emit(layer=layer, what="data")

    def new_mask(self, name: str | None = None):
        """An empty mask, chosen for the next prompts and strokes."""
        if not self._need_study():
            return None
        try:
            mask = self.masks.add(name, algorithm=None)
        except MaskError as exc:
            self.window.show_error(str(exc))
            return None
        self.set_active(mask.name)
        self.show_dock()
        return mask

    def delete_mask(self, name: str | None = None) -> bool:
        name = name or self.active
        if self.masks is None or name is None or name not in self.masks:
            self.window.status.message("Choose a mask to delete")
            return False
        self.masks.remove(name)
        self.window.status.message(f"Deleted mask {name} (Ctrl+Z in a view brings it back)")
        return True

    def rename_mask(self, name: str, new_name: str) -> bool:
        active = self.active == name
        try:
            mask = self.masks.rename(name, new_name)
        except MaskError as exc:
            self.window.show_error(f"Cannot rename mask {name}: {exc}")
            self.panel.refresh()
            return False
        if active:
            self.active = mask.name
            if self.session is not None:
                self.session.mask = mask.name
            self.panel.refresh()
        return True

    def assign_mask(self, name: str, structure: str | None) -> bool:
        try:
            self.masks.assign(name, structure)
        except MaskError as exc:
            self.window.show_error(str(exc))
            return False
        return True

    def undo(self) -> None:
        self._history("undo")

    def redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        if self.masks is None:
            return
        text = getattr(self.masks, which)()
        self._end_session()
        self.window.status.message(f"{'Undone' if which == 'undo' else 'Redone'}: {text}" if text
                                   else f"Nothing to {which}")
        self.panel.refresh()

    # ----------------------------------------------------------------------------------- tools
    def set_tool(self, tool: str) -> None:
        self.state.set_tool(tool)

    def _on_tool(self, tool: str) -> None:
        if tool in SAM_TOOLS:
            self.prefetch_current()
            self.window.status.message({
                "positive point": "Click inside the structure (each click adds a point; Esc starts over)",
                "negative point": "Click outside the structure to exclude that part",
                "box prompt": "Drag a box around the structure"}[tool])
        elif tool in ("brush", "erase"):
            what = "paint into" if tool == "brush" else "erase from"
            self.window.status.message(f"Drag to {what} mask {self.active or '(a new mask)'}; "
                                       f"radius {self.brush_mm:g} mm (Masks panel)")

    def current_view(self):
        """The slice view last clicked (axial when the 3D view was)."""
        views = self.window.slice_views
        return views.get(self.window.layout_widget.active, views["axial"])

    def embed_window(self) -> tuple[float, float]:
        return float(self.state.level), float(self.state.width)

    def _need_study(self) -> bool:
        if self.window.volume is None or self.masks is None:
            self.window.show_error("Open a study before segmenting")
            return False
        return True

    def _session_for(self, view) -> PromptSession:
        window = self.embed_window()
        if self.session is None or not self.session.matches(self.active, view, window):
            self.session = PromptSession(self.active, view.name, view.axis, view.slice_index, window)
            self.markers.session = self.session
        return self.session

    def _end_session(self) -> None:
        if self.session is not None:
            self.session = None
            self.markers.session = None
            self.markers.update()

    def add_point(self, view, xy, positive: bool) -> SegmentJob | None:
        """A point prompt at slice pixel ``xy`` = (column, row) of ``view``'s slice."""
        if not self._need_study():
            return None
        session = self._session_for(view)
        session.points.append((float(xy[0]), float(xy[1]), bool(positive)))
        self.markers.update()
        if session.box is None and not any(p for _, _, p in session.points):
            self.window.status.message("Add a positive point or a box first; negative points only exclude parts")
            return None
        return self._run_prompt(session)

    def set_box(self, view, box) -> SegmentJob | None:
        """A box prompt ``(x0, y0, x1, y1)`` (first and last column / row) on ``view``'s slice."""
        if not self._need_study():
            return None
        session = self._session_for(view)
        session.box = tuple(float(v) for v in box)
        self.markers.update()
        return self._run_prompt(session)

    def _payload(self, axis: int, index: int, window) -> dict:
        return {"axis": int(axis), "index": int(index), "window": tuple(window)}

    def _run_prompt(self, session: PromptSession) -> SegmentJob:
        payload = {**self._payload(session.axis, session.index, session.window),
                   "points": list(session.points), "box": session.box}
        job = self.worker.submit(SegmentJob("predict", payload, {"session": session}))
        self.window.status.message(f"Segmenting {AXIS_NAMES[session.axis]} slice {session.index + 1}...")
        return job

    def begin_stroke(self, view, erase: bool):
        """The writable slice of the chosen mask for a brush stroke (a new mask for painting
        when none is chosen); None when there is nothing to erase."""
        if not self._need_study():
            return None
        if self.active_mask() is None:
            if erase:
                self.window.status.message("Choose a mask to erase from (Masks panel)")
                return None
            if self.new_mask() is None:
                return None
        self._end_session()
        return self.masks.begin_slice_edit(self.active, view.axis, view.slice_index)

    def end_stroke(self) -> int:
        changed = self.masks.end_slice_edit() if self.masks is not None else 0
        if changed:
            self.window.status.message(f"Mask {self.active}: {changed} voxels changed")
        return changed

    # -------------------------------------------------------------------------------- prefetch
    def _on_cursor(self, old) -> None:
        if self.markers.session is not None:
            self.markers.update()
        moved = [name for name, view in self.window.slice_views.items()
                 if old[view.axis] != self.state.cursor[view.axis]]
        if moved and self.masks is not None and len(self.masks):
            self.outlines.update(moved)
        self._schedule_prefetch()

    def _schedule_prefetch(self) -> None:
        if self.state.tool in SAM_TOOLS and self.window.volume is not None:
            self._prefetch_timer.start()

    def prefetch_current(self) -> SegmentJob | None:
        """Embed the current view's slice in the background (a SAM tool is chosen)."""
        if self.window.volume is None or self.masks is None:
            return None
        view = self.current_view()
        return self.worker.submit(SegmentJob("embed", self._payload(view.axis, view.slice_index, self.embed_window()),
                                             {"view": view.name}, prefetch=True))

    # ------------------------------------------------------------------------ segment structure
    def segment_structure(self, index: int | None = None, view=None) -> SegmentJob | None:
        """Prompt SAM with draft structure ``index``'s top patches on ``view``'s slice (default:
        the focused structure, the current view); the result is a new mask for that structure."""
        window = self.window
        if not self._need_study():
            return None
        drafting = window.drafting
        if drafting.draft is None:
            window.show_error("Draft a report (Report > Draft report) or open a draft before segmenting a structure")
            return None
        index = drafting.focused if index is None else int(index)
        if index is None:
            window.show_error("Choose a structure first: click its sentence in the report")
            return None
        structure = drafting.draft.structures[index]
        view = view or self.current_view()
        patches = [{"box_voxels": p["box_voxels"], "centre_voxel": p["centre_voxel"]} for p in structure.top_patches]
        payload = {**self._payload(view.axis, view.slice_index, self.embed_window()), "top_patches": patches}
        context = {"structure": structure.name, "colour": structure.colour, "view": view.name}
        job = self.worker.submit(SegmentJob("patches", payload, context))
        title = f"Segmenting {structure.name} on {view.name} slice {view.slice_index + 1} from its top patches"
        if self._propagating is None:  # the bar is the propagation's while one runs
            self.prompt_progress.start(job, title, starting=not self.worker.process.loaded,
                                       embed_seconds=self.timings.get("embed"))
        else:
            window.status.message(f"{title} (after the propagation)...")
        return job

    async def segment_structure_async(self, index: int | None = None) -> bool:
        """:meth:`segment_structure`, ending when its mask is shown (True) or it failed (for scripts
        and the command line: the 3D surface is rebuilt at once)."""
        return await self._await(self.mask_done, lambda: self.segment_structure(index))

    async def propagate_async(self, name: str | None = None) -> bool:
        return await self._await(self.propagation_done, lambda: self.propagate(name))

    async def _await(self, signal, start) -> bool:
        future = asyncio.get_event_loop().create_future()

        def finish(ok: bool) -> None:
            if not future.done():
                future.set_result(bool(ok))

        signal.connect(finish)
        try:
            if start() is None:
                return False
            ok = await future
            self.flush_surfaces()  # the 3D view shows the result at once
            return ok
        finally:
            signal.disconnect(finish)

    # ------------------------------------------------------------------------------- propagate
    def propagate(self, name: str | None = None, view=None) -> SegmentJob | None:
        """Grow mask ``name`` (default: the chosen one) from ``view``'s slice through its neighbours
        in both directions; from its largest slice along that axis when the current one is empty."""
        window = self.window
        if not self._need_study():
            return None
        name = name or self.active
        if name is None or name not in self.masks:
            window.show_error("Choose a mask to propagate (Masks panel), or segment a structure first")
            return None
        if self._propagating is not None:
            window.status.message("A propagation is running already (Esc cancels it)")
            return None
        mask = self.masks.get(name)
        view = view or self.current_view()
        axis, index = view.axis, view.slice_index
        start = slice_view(mask.array, axis, index)
        if not start.any():
            areas = mask.array.sum(axis=tuple(a for a in range(3) if a != axis))
            if not areas.any():
                window.show_error(f"Mask {name} is empty: segment a slice first, then propagate it")
                return None
            index = int(np.argmax(areas))
            start = slice_view(mask.array, axis, index)
        payload = {**self._payload(axis, index, self.embed_window()), "start_mask": pack(start),
                   "max_slices": int(self.max_slices)}
        job = self.worker.submit(SegmentJob("propagate", payload, {"mask": mask, "name": name, "index": index}))
        self.prompt_progress.stop()  # a structure still being segmented finishes quietly
        self._propagating = job
        self.live = LivePropagation(self.masks, mask, axis)
        window.status.start_progress(f"Propagating mask {name} in 3D from {AXIS_NAMES[axis]} slice {index + 1}...")
        return job

    def cancel(self) -> bool:
        """Esc: stop a propagation (the slices done so far are kept) or a "Segment structure" (its
        result is dropped when it comes); otherwise forget the prompts of the current slice."""
        if self._propagating is not None and self.worker.cancel_propagation():
            self.window.status.message("Cancelling the propagation (the slices done so far are kept)...")
            return True
        job = self.prompt_progress.job
        if job is not None:
            job.context["cancelled"] = True
            self.prompt_progress.stop()
            self.window.status.message(f"Cancelled: segmenting {job.context['structure']}")
            return True
        self._end_session()
        return False

    def _on_progress(self, job, done: int, planned: int) -> None:
        if job is self._propagating:
            per = self.live.per_slice() if self.live is not None else None
            if per is None and job.started_at and done:
                per = (time.perf_counter() - job.started_at) / done
            rate = f", {per:.1f} s per slice" if per else ""
            self.window.status.progress(done / max(planned, 1),
                                        f"Propagating mask {job.context['name']}: slice {done} of {planned} at most"
                                        f"{rate} (Esc or Cancel stops it and keeps the slices done)")
        else:
            self.prompt_progress.on_progress(job, done, planned)

    def _on_slice(self, job, info: dict) -> None:
        """A propagation's slice: painted into its mask now (one undo step for all when it ends)."""
        if job is self._propagating and self.live is not None:
            self.live.paint(info)

    # --------------------------------------------------------------------------------- results
    def _on_ready(self, info: dict) -> None:
        self.segmenter_info = dict(info)

    def _on_finished(self, job: SegmentJob) -> None:
        self.last_job = job
        if job.kind == "embed":
            if job.ok:
                self.timings["embed"] = float(job.result["seconds"]) if not job.result["cached"] else \
                    self.timings.get("embed", 0.0)
            elif job.error and not job.dropped:
                self.window.status.message(f"Cannot prepare the segmenter: {job.error}")
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

    def _mask_of(self, job) -> np.ndarray:
        return unpack(job.result["mask"])

    def _note_timing(self, job, what: str) -> str:
        r = job.result
        self.timings[what] = job.seconds
        self.timings["predict"] = float(r["predict_seconds"])
        if not r["cached"]:
            self.timings["embed"] = float(r["embed_seconds"])
        embed = "cached embedding" if r["cached"] else f"slice embedded in {r['embed_seconds']:.1f} s"
        return f"{job.seconds * 1000:.0f} ms, {embed}"

    def _apply_prompt(self, job: SegmentJob) -> bool:
        session: PromptSession = job.context["session"]
        if self.masks is None:
            return False
        mask2d = self._mask_of(job)
        timing = self._note_timing(job, "prompt")
        text = f"SAM prompt on {AXIS_NAMES[session.axis]} slice {session.index + 1}"
        if session.mask is None or session.mask not in self.masks:
            array = np.zeros(self.masks.shape, dtype=bool)
            slice_view(array, session.axis, session.index)[...] = mask2d
            mask = self.masks.add(array=array)
            session.mask = mask.name
            self.active = mask.name
            self.panel.refresh()
            self.show_dock()
        else:
            mask = self.masks.get(session.mask)
            if mask.algorithm is None:
                mask.algorithm = SAM_ALGORITHM
            self.masks.set_slice(mask.name, session.axis, session.index, mask2d, "replace", text=text)
        self.window.status.message(f"Mask {mask.name}: {int(mask2d.sum())} pixels on {AXIS_NAMES[session.axis]} "
                                   f"slice {session.index + 1} ({timing})")
        return True

    def _apply_structure(self, job: SegmentJob) -> bool:
        c, r, p = job.context, job.result, job.payload
        if r["mask"] is None:
            return self._nothing(f"No top patch of {c['structure']} crosses {AXIS_NAMES[p['axis']]} slice "
                                 f"{p['index'] + 1}: choose its sentence to move to its best patch")
        mask2d = self._mask_of(job)
        timing = self._note_timing(job, "structure")
        if not mask2d.any():
            return self._nothing(f"The segmenter found nothing for {c['structure']} on this slice ({timing})")
        array = np.zeros(self.masks.shape, dtype=bool)
        slice_view(array, p["axis"], p["index"])[...] = mask2d
        colour = c["colour"] if isinstance(c["colour"], str) and len(c["colour"]) == 7 else None
        mask = self.masks.add(self.masks.unique_name(c["structure"]), array=array, colour=colour,
                              structure=c["structure"], algorithm=SAM_ALGORITHM)
        self.active = mask.name
        self.session = PromptSession(mask.name, c["view"], p["axis"], p["index"], tuple(p["window"]),
                                     points=[tuple(pt) for pt in r["points"]], box=tuple(r["box"]))
        self.markers.session = self.session
        self.markers.update()
        self.panel.refresh()
        self.show_dock()
        self.window.status.message(f"Mask {mask.name}: {int(mask2d.sum())} pixels from {r['patches']} top patch(es) "
                                   f"on {AXIS_NAMES[p['axis']]} slice {p['index'] + 1} ({timing}); "
                                   f"refine with points, or Propagate in 3D")
        return True

    def _nothing(self, message: str) -> bool:
        """A request that produced no mask: said in the status bar (no dialog); returns False."""
        self.window.last_error = message
        self.window.status.message(message)
        return False

    def _propagation_finished(self, job: SegmentJob) -> None:
        if job is not self._propagating:
            return
        live, self._propagating, self.live = self.live, None, None
        status = self.window.status
        status.stop_progress()
        ok = False
        mask = job.context["mask"]
        painted = live.withdraw() if live is not None else None  # the result goes in below as one undo step
        alive = live.alive if live is not None else (self.masks is not None and mask.name in self.masks
                                                          and self.masks.get(mask.name) is mask)
        if job.error and not job.dropped:
            kept = 0
            if alive and painted is not None:  # the worker failed part-way: keep what the reader saw
                kept = self.masks.set_volume(mask.name, painted, "add", text=f"propagate mask {mask.name}")
            self.window.show_error(f"Cannot propagate mask {job.context['name']}: {job.error}"
                                   + (f" ({kept} voxels of the slices done are kept)" if kept else ""))
        elif job.ok and alive:
            volume = unpack(job.result["mask"])
            changed = self.masks.set_volume(mask.name, volume, "add", text=f"propagate mask {mask.name}")
            axis = job.payload["axis"]
            used = mask.slices_used(axis)
            self.timings["propagate"] = job.seconds
            span = f"{AXIS_NAMES[axis]} slices {used[0] + 1}-{used[-1] + 1}" if len(used) else "no slice"
            verb = "Propagation cancelled; kept" if job.cancelled else "Propagated"
            per = live.per_slice() if live is not None else None
            rate = f", {per:.1f} s per slice" if per else ""
            status.message(f"{verb} mask {mask.name}: {changed} voxels added, {span} "
                           f"({job.result['embedded']} slices embedded, {job.seconds:.1f} s{rate}; "
                           f"Ctrl+Z removes them)")
            ok = changed > 0
        elif job.cancelled:
            status.message("Propagation cancelled")
        self.propagation_done.emit(ok)

    # ------------------------------------------------------------------------------- lifecycle
    def shutdown(self) -> None:
        """The window is closing: no more timers, the worker process quits."""
        self._prefetch_timer.stop()
        self._surface_timer.stop()
        self._stale_surfaces.clear()
        self.prompt_progress.stop()
        self.worker.shutdown()
