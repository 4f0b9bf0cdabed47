"""The segmentation controller's prompts: the Segment tools, point and box prompts on a slice (one
undo step each), brush strokes, the background embedding of the current slice, and "Segment
structure" (a draft structure's top patches crossing the slice prompt a new mask).

A mixin of :class:`ctrg_desktop.app.segment.controller.SegmentationController` (its state lives there).
The slice embeddings use the viewer's current grey window (what the reader sees is what SAM sees).
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.app.segment.tools import SAM_TOOLS, PromptSession
from ctrg_desktop.app.segment.worker import SegmentJob
from ctrg_desktop.segmentation.masks import SAM_ALGORITHM, slice_view
from ctrg_desktop.workers.pipe import unpack

AXIS_NAMES = {0: "axial", 1: "coronal", 2: "sagittal"}


class Prompting:
    """Tools, prompts and "Segment structure" (mixin: ``self.worker``, ``self.session``, ``self.markers``)."""

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
