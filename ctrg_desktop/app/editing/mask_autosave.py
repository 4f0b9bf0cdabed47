"""Autosave of the study's masks beside the report autosave (``<study key>.masks.npz``).

Every mask change schedules a write at most :data:`DELAY_MS` later (a burst is written once). The
masks are packed on the GUI thread (bit packing: a copy an eighth of the size) and compressed and
written crash-safely (:func:`ctrg_desktop.reports.mask_file.write_masks`) on one background thread,
which also does the deletes, in order. An autosave exists while the masks have changes not saved
(Save, or an accept that recorded every mask); back at the saved state it is removed. The
:class:`~ctrg_desktop.app.editing.autosave_binding.AutosaveBinding` offers it back with the report.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.mask_file import pack_masks, read_masks

DELAY_MS = 500


class MaskAutosave(QtCore.QObject):
    """Signals: ``saved(key, count)`` after a write, ``restored(key, count)``."""

    saved = QtCore.Signal(str, int)
    restored = QtCore.Signal(str, int)
    _written = QtCore.Signal(str, int, str)

    def __init__(self, binding):
        super().__init__(binding)
        self.binding = binding
        self.window = binding.window
        self.store = binding.store
        self.masks = None
        self.key = ""
        self.last_error = ""
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.flush)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctrg-mask-autosave")
        self._future: Future | None = None
        self._last = None      # (id(masks), state) written or being written
        self._dropped = None   # (id(masks), state) the reader discarded
        self._owned: set[str] = set()
        self._written.connect(self._on_written)

    def watch(self, masks, key: str) -> None:
        """Follow ``masks`` (study ``key``); the previous set's pending save is written first."""
        if masks is not self.masks:
            self.flush()
            self._dropped = self._last = None
        self.masks, self.key = masks, key

    def schedule(self) -> None:
        if self.masks is not None and self.key and not self.timer.isActive():
            self.timer.start()

    def _token(self):
        return (id(self.masks), self.masks.state) if self.masks is not None else None

    def flush(self) -> bool:
        """Start writing the masks now when they changed since the last write; True when started."""
        self.timer.stop()
        masks, key = self.masks, self.key
        if masks is None or not key or key in self.binding.held or self._token() == self._dropped:
            return False
        if not masks.is_modified or not any(m.array.any() for m in masks):
            if key in self._owned:
                self._owned.discard(key)
                self._last = None
                self._submit(self.store.discard_masks, key)
            return False
        if self._token() == self._last:
            return False
        label = Path(self.window.study_path).name if getattr(self.window, "study_path", None) else ""
        packed = pack_masks(masks, masks.shape, extra={"label": label})
        self._last = self._token()
        self._owned.add(key)
        self._submit(self._write, key, packed)
        return True

    def _submit(self, fn, *args) -> None:
        if self.executor is not None:  # None once shut down
            self._future = self.executor.submit(fn, *args)

    def _write(self, key: str, packed) -> None:
        from ctrg_desktop.reports.mask_file import write_masks

        try:
            write_masks(self.store.masks_path(key), packed)
        except (CtrgError, OSError) as exc:
            self._written.emit(key, -1, str(exc))
            return
        self._written.emit(key, len(packed.meta), "")

    def _on_written(self, key: str, count: int, error: str) -> None:
        if error:
            message = f"Cannot autosave the masks: {error}"
            if message != self.last_error:
                self.window.status.message(message)
            self.last_error = message
            self._last = None
            return
        self.last_error = ""
        self.saved.emit(key, count)

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until the writes started so far are on disk."""
        future = self._future
        if future is not None:
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 -- reported by _write
                pass

    # --- after a save, a discard, a crash ---------------------------------------------------
    def drop(self) -> None:
        """The reader discarded the unsaved masks: forget their autosave; this state is not written."""
        self.timer.stop()
        if self.masks is None:
            return
        self._dropped = self._token()
        self.discard(self.key)

    def discard(self, key: str) -> None:
        if key:
            self._owned.discard(key)
            self._last = None
            self._submit(self.store.discard_masks, key)

    def pending(self, key: str) -> dict | None:
        """The header of ``key``'s autosaved masks (``saved``, ``masks``), or None."""
        return self.store.masks_header(key)

    def restore(self, key: str) -> int:
        """Put ``key``'s autosaved masks in place of the study's; how many (0: none or unreadable)."""
        segmentation = getattr(self.window, "segmentation", None)
        path = self.store.masks_path(key)
        if segmentation is None or segmentation.masks is None or not path.is_file():
            return 0
        try:
            saved = read_masks(path, segmentation.masks.shape)
        except (CtrgError, OSError) as exc:
            self.window.status.message(f"Ignoring the autosaved masks: {exc}")
            return 0
        segmentation.load_masks(saved, clean=False)  # unsaved work again, until saved
        self._owned.add(key)
        if segmentation.masks is self.masks:
            self._last = self._token()  # that state is the file already
        if saved:
            segmentation.show_dock()
        self.restored.emit(key, len(saved))
        return len(saved)

    def decline(self, key: str) -> None:
        """Drop ``key``'s autosaved masks (the reader chose Discard)."""
        self.discard(key)
        if key == self.key and self.masks is not None and self.masks.is_modified:
            self.schedule()

    def shutdown(self) -> None:
        """The window closes: write the last changes and wait for the disk."""
        if self.executor is None:
            return
        self.flush()
        self.wait()
        self.executor.shutdown(wait=True)
        self.executor = None
