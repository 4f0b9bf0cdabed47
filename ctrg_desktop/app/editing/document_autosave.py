"""What the masks' and the measurements' autosaves share (``<study key>.<kind>`` beside the report's).

A :class:`DocumentAutosave` follows one document of the window (a mask set, a measurement set)
for one study key: every change schedules a write at most :data:`DELAY_MS` later (a burst is
written once), an autosave exists while the document has changes not saved and is removed back
at the saved state (or with nothing left in it), a state the reader discarded is never written,
and :meth:`restore` puts an autosaved file back in the window. Subclasses say which document and
controller they follow, where a key's file lies, how it is read, loaded, written and removed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.errors import CtrgError

DELAY_MS = 500


class DocumentAutosave(QtCore.QObject):
    """Signals: ``saved(key, count)`` after a write, ``restored(key, count)``."""

    saved = QtCore.Signal(str, int)
    restored = QtCore.Signal(str, int)

    #: the document's name in messages ("masks", "measurements")
    noun = ""

    def __init__(self, binding):
        super().__init__(binding)
        self.binding = binding
        self.window = binding.window
        self.store = binding.store
        self.document = None
        self.key = ""
        self.last_error = ""
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.flush)
        self._last = None      # (id(document), state) written or being written
        self._dropped = None   # (id(document), state) the reader discarded
        self._owned: set[str] = set()

    # --- hooks ---------------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """Where ``key``'s autosave lies."""
        raise NotImplementedError

    def _target(self):
        """The window's controller of the document (None when the window has none)."""
        raise NotImplementedError

    def _current(self, target):
        """The document ``target`` holds now."""
        raise NotImplementedError

    def _shape(self, target):
        """The grid shape a file is read against, or None while ``target`` cannot take one."""
        raise NotImplementedError

    def _read(self, path: Path, shape):
        """The autosaved document at ``path`` (raises CtrgError or OSError)."""
        raise NotImplementedError

    def _load(self, target, read) -> None:
        """Put ``read`` in ``target`` as unsaved work."""
        raise NotImplementedError

    def _is_empty(self, document) -> bool:
        raise NotImplementedError

    def _save(self, key: str, document, label: str) -> bool:
        """Write (or start writing) ``document`` as ``key``'s autosave; True when written (started)."""
        raise NotImplementedError

    def _remove(self, key: str) -> None:
        """Delete ``key``'s autosave."""
        raise NotImplementedError

    # --- following the document ----------------------------------------------------------------
    def watch(self, document, key: str) -> None:
        """Follow ``document`` (study ``key``); the previous one's pending save is written first."""
        if document is not self.document:
            self.flush()
            self._dropped = self._last = None
        self.document, self.key = document, key

    def schedule(self) -> None:
        if self.document is not None and self.key and not self.timer.isActive():
            self.timer.start()

    def _token(self):
        return (id(self.document), self.document.state) if self.document is not None else None

    def flush(self) -> bool:
        """Write the document now when it changed since the last write; True when written (started)."""
        self.timer.stop()
        document, key = self.document, self.key
        if document is None or not key or key in self.binding.held or self._token() == self._dropped:
            return False
        if not document.is_modified or self._is_empty(document):
            if key in self._owned:
                self.discard(key)
            return False
        if self._token() == self._last:
            return False
        label = Path(self.window.study_path).name if getattr(self.window, "study_path", None) else ""
        return self._save(key, document, label)

    def _failed(self, message: str) -> None:
        """A write failed: say so in the status bar (once per distinct message)."""
        if message != self.last_error:
            self.window.status.message(message)
        self.last_error = message

    def _succeeded(self, key: str, count: int) -> None:
        self.last_error = ""
        self.saved.emit(key, count)

    # --- after a save, a discard, a crash ------------------------------------------------------
    def drop(self) -> None:
        """The reader discarded the unsaved document: forget its autosave; this state is not written."""
        self.timer.stop()
        if self.document is None:
            return
        self._dropped = self._token()
        self.discard(self.key)

    def discard(self, key: str) -> None:
        if key:
            self._owned.discard(key)
            self._last = None
            self._remove(key)

    def restore(self, key: str) -> int:
        """Put ``key``'s autosaved document in place of the study's; how many items (0: none or unreadable)."""
        target = self._target()
        path = self.path(key)
        shape = self._shape(target) if target is not None else None
        if shape is None or not path.is_file():
            return 0
        try:
            read = self._read(path, shape)
        except (CtrgError, OSError) as exc:
            self.window.status.message(f"Ignoring the autosaved {self.noun}: {exc}")
            return 0
        self._load(target, read)  # unsaved work again, until saved
        self._owned.add(key)
        if self._current(target) is self.document:
            self._last = self._token()  # that state is the file already
        if read:
            target.show_dock()
        self.restored.emit(key, len(read))
        return len(read)

    def decline(self, key: str) -> None:
        """Drop ``key``'s autosaved document (the reader chose Discard)."""
        self.discard(key)
        if key == self.key and self.document is not None and self.document.is_modified:
            self.schedule()

    def shutdown(self) -> None:
        """The window closes: write the last changes."""
        self.flush()
