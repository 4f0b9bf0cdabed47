"""The segmentation controller's "Propagate in 3D": the chosen mask grows slice by slice in both
directions, each slice painted into it as soon as the worker has it
(:class:`~ctrg_desktop.app.segment.live.LivePropagation`), with progress (seconds per slice) and
Cancel (Esc keeps the slices done) in the status bar; the result is one undo step.

A mixin of :class:`ctrg_desktop.app.segment.controller.SegmentationController` (its state lives there).
"""

from __future__ import annotations

import time

import numpy as np

from ctrg_desktop.app.segment.live import LivePropagation
from ctrg_desktop.app.segment.prompting import AXIS_NAMES
from ctrg_desktop.app.segment.worker import SegmentJob
from ctrg_desktop.segmentation.masks import slice_view
from ctrg_desktop.workers.pipe import pack, unpack


class Propagation:
    """Propagation and Esc (mixin: ``self._propagating``, ``self.live``, ``self.worker``)."""

    @property
    def propagating(self) -> bool:
        """A propagation is running: it writes into its mask when it ends."""
        return self._propagating is not None

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

    async def propagate_async(self, name: str | None = None) -> bool:
        return await self._await(self.propagation_done, lambda: self.propagate(name))

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
