"""Autosave of the study's masks beside the report autosave (``<study key>.masks.npz``).

Every mask change schedules a write at most :data:`DELAY_MS` later (a burst is written once). The
masks are packed on the GUI thread (bit packing: a copy an eighth of the size) and compressed and
written crash-safely (:func:`ctrg_desktop.reports.mask_file.write_masks`) on one background thread,
which also does the deletes, in order. An autosave exists while the masks have changes not saved
(Save, or an accept that recorded every mask); back at the saved state it is removed. The
:class:`~ctrg_desktop.app.editing.autosave_binding.AutosaveBinding` offers it back with the report.
The bookkeeping shared with the measurements' autosave is in
:class:`~ctrg_desktop.app.editing.document_autosave.DocumentAutosave`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.app.editing.document_autosave import DELAY_MS, DocumentAutosave
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.mask_file import pack_masks, read_masks

__all__ = ["DELAY_MS", "MaskAutosave"]


class MaskAutosave(DocumentAutosave):
    """Signals: ``saved(key, count)`` after a write, ``restored(key, count)``."""

    _written = QtCore.Signal(str, int, str)
    noun = "masks"

    def __init__(self, binding):
        super().__init__(binding)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctrg-mask-autosave")
        self._future: Future | None = None
        self._written.connect(self._on_written)

    @property
    def masks(self):
        """The mask set followed (:meth:`watch`)."""
        return self.document

    @masks.setter
    def masks(self, masks) -> None:
        self.document = masks

    # --- DocumentAutosave hooks ----------------------------------------------------------------
    def path(self, key: str) -> Path:
        return self.store.masks_path(key)

    def _target(self):
        return getattr(self.window, "segmentation", None)

    def _current(self, segmentation):
        return segmentation.masks

    def _shape(self, segmentation):
        return segmentation.masks.shape if segmentation.masks is not None else None

    def _read(self, path: Path, shape):
        return read_masks(path, shape)

    def _load(self, segmentation, saved) -> None:
        segmentation.load_masks(saved, clean=False)

    def _is_empty(self, masks) -> bool:
        return not any(m.array.any() for m in masks)

    def _save(self, key: str, masks, label: str) -> bool:
        """Pack here, compress and write on the background thread; True (started)."""
        packed = pack_masks(masks, masks.shape, extra={"label": label})
        self._last = self._token()
        self._owned.add(key)
        self._submit(self._write, key, packed)
        return True

    def _remove(self, key: str) -> None:
        self._submit(self.store.discard_masks, key)

    # --- the background thread -----------------------------------------------------------------
    def _submit(self, fn, *args) -> None:
        if self.executor is not None:  # None once shut down
            self._future = self.executor.submit(fn, *args)

    def _write(self, key: str, packed) -> None:
        from ctrg_desktop.reports.mask_file import write_masks

        try:
            write_masks(self.path(key), packed)
        except (CtrgError, OSError) as exc:
            self._written.emit(key, -1, str(exc))
            return
        self._written.emit(key, len(packed.meta), "")

    def _on_written(self, key: str, count: int, error: str) -> None:
        if error:
            self._failed(f"Cannot autosave the masks: {error}")
            self._last = None
            return
        self._succeeded(key, count)

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until the writes started so far are on disk."""
        future = self._future
        if future is not None:
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 -- reported by _write
                pass

    def pending(self, key: str) -> dict | None:
        """The header of ``key``'s autosaved masks (``saved``, ``masks``), or None."""
        return self.store.masks_header(key)

    def shutdown(self) -> None:
        """The window closes: write the last changes and wait for the disk."""
        if self.executor is None:
            return
        self.flush()
        self.wait()
        self.executor.shutdown(wait=True)
        self.executor = None
