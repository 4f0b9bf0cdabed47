"""Autosave of the edited report (and, through ``masks``, of the study's masks), and the offer to
restore them after a crash.

Every change schedules a save at most :data:`DELAY_MS` later (a burst of edits is written once;
the first change of a burst is never more than that old on disk). A save writes the document
with its undo history through :class:`~ctrg_desktop.reports.autosave.AutosaveStore` (atomic,
fsynced) and, once per draft, a copy of the draft (``drafts/<study key>.json`` + attention map)
so the evidence comes back too. An autosave exists while the report has changes not saved or
accepted into the corrections dataset: undoing back to the saved (or drafted) state removes it.

The study's masks are autosaved beside (:class:`~ctrg_desktop.app.editing.mask_autosave.MaskAutosave`,
``self.masks``), and so are its measurements
(:class:`~ctrg_desktop.app.measure.autosave.MeasurementAutosave`, ``self.measurements``). When a
study opens and an autosave (report, masks, measurements) exists for its study key, the window
asks: Restore, Discard, or Later (Esc: the autosave stays until this study's work changes again);
until answered it is not overwritten. ``CTRG_RESTORE=yes`` (or ``no``) answers
without asking (tests, scripted runs). :meth:`AutosaveBinding.drop` forgets the autosave of work
the reader chose to discard.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.editing.mask_autosave import MaskAutosave
from ctrg_desktop.app.measure.autosave import MeasurementAutosave
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.autosave import AutosaveStore

DELAY_MS = 500
RESTORE_ENV = "CTRG_RESTORE"
YES, NO = ("yes", "y", "1", "true", "always"), ("no", "n", "0", "false", "never")


def restore_answer() -> str:
    """``CTRG_RESTORE`` as "yes", "no" or "ask" (unset or anything else)."""
    value = os.environ.get(RESTORE_ENV, "").strip().lower()
    return "yes" if value in YES else "no" if value in NO else "ask"


class AutosaveBinding(QtCore.QObject):
    """Signals: ``saved(key, revision)``, ``offered(key)`` (a restore question is open),
    ``restored(document)``, ``discarded(key)``."""

    saved = QtCore.Signal(str, int)
    offered = QtCore.Signal(str)
    restored = QtCore.Signal(object)
    discarded = QtCore.Signal(str)

    def __init__(self, controller, store: AutosaveStore | None = None):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.store = store or AutosaveStore()
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.flush)
        self.document = None
        self.key = ""
        self.draft = None
        self.offer_box: QtWidgets.QMessageBox | None = None
        self.last_error = ""
        self.held: set[str] = set()    # keys whose restore question is open
        self._owned: set[str] = set()  # keys whose autosave this window wrote or restored
        self._copied: tuple[str, int] | None = None  # (key, id(draft)) of the draft copy on disk
        self._dropped = None  # (id(document), revision) the reader discarded: not written
        self.masks = MaskAutosave(self)
        self.measurements = MeasurementAutosave(self)

    # --- saving ---------------------------------------------------------------------------
    def watch(self, document, key: str, draft=None) -> None:
        """Follow ``document`` (study ``key``); the previous one's pending save is written first."""
        if document is not self.document:
            self.flush()
            self._dropped = None
        self.document, self.key, self.draft = document, key, draft

    def schedule(self) -> None:
        """A change: save within :data:`DELAY_MS` (not restarted by further changes)."""
        if self.document is not None and self.key and not self.timer.isActive():
            self.timer.start()

    @property
    def pending(self) -> bool:
        return self.timer.isActive()

    def flush(self) -> bool:
        """Write the document now when it changed since the last save; True when written."""
        self.timer.stop()
        document, key = self.document, self.key
        if document is None or not key or key in self.held or self._dropped == (id(document), document.revision):
            return False
        try:
            if not document.is_modified:  # back to the accepted or drafted state: nothing to restore
                if key in self._owned and self.store.path_for(key).exists():
                    self.discard(key)
                return False
            extra = self._extra(key)
            written = self.store.save_if_changed(key, document, label=self._label(), extra=extra)
        except (CtrgError, OSError) as exc:
            message = f"Cannot autosave the report: {exc}"
            if message != self.last_error:
                self.window.status.message(message)
            self.last_error = message
            return False
        self.last_error = ""
        self._owned.add(key)
        if written:
            self.saved.emit(key, document.revision)
        return written

    def _label(self) -> str:
        path = getattr(self.window, "study_path", None)
        return Path(path).name if path else ""

    def _extra(self, key: str) -> dict:
        """What reopening needs: the study's path and series, the draft copy."""
        window = self.window
        volume = window.volume
        extra = {"study": str(window.study_path) if window.study_path else "",
                 "series_uid": volume.series.series_instance_uid if volume is not None else ""}
        draft = self.draft
        if draft is not None:
            path = self.draft_copy_path(key)
            if self._copied != (key, id(draft)) or not path.is_file():
                draft.save(path)
                self._copied = (key, id(draft))
            extra["draft"] = str(path.relative_to(self.store.root))
        return extra

    def drop(self) -> None:
        """The reader discarded the report's unsaved edits: forget their autosave; this state is
        not written again (a later edit is)."""
        self.timer.stop()
        document, key = self.document, self.key
        if document is None or not key:
            return
        self._dropped = (id(document), document.revision)
        if key in self._owned:
            self.discard(key)

    def draft_copy_path(self, key: str) -> Path:
        return self.store.root / "drafts" / f"{key}.json"

    def discard(self, key: str) -> None:
        """Forget the autosave of ``key`` (and its draft copy)."""
        from ctrg_desktop.inference import attention_path_for

        self.store.discard(key)
        copy = self.draft_copy_path(key)
        for path in (copy, attention_path_for(copy)):
            path.unlink(missing_ok=True)
        if self._copied and self._copied[0] == key:
            self._copied = None
        self._owned.discard(key)
        self.discarded.emit(key)

    # --- restoring ------------------------------------------------------------------------
    def offer(self, key: str) -> bool:
        """A study with key ``key`` opened: when an autosave (report, masks) exists, restore it
        (``CTRG_RESTORE=yes``), drop it (``no``) or ask. True when a question is open or something
        was restored."""
        try:
            payload = self.store.load(key)
        except CtrgError as exc:
            self.window.status.message(f"Ignoring the autosaved report: {exc}")
            payload = None
        masks = self.masks.pending(key)
        measured = self.measurements.pending(key)
        if payload is None and masks is None and measured is None:
            return False
        answer = restore_answer()
        if answer == "yes":
            document = self.restore(key)
            return document is not None or masks is not None or measured is not None
        if answer == "no":
            self.decline(key)
            return False
        self.held.add(key)
        buttons = QtWidgets.QMessageBox.StandardButton
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question,
            "Restore the edited report?" if masks is None and measured is None else "Restore unsaved work?",
            _offer_text(payload, masks, measured), buttons.Yes | buttons.No | buttons.Cancel, self.window)
        box.button(buttons.Yes).setText("Restore")
        box.button(buttons.No).setText("Discard")
        box.button(buttons.Cancel).setText("Later")
        box.setDefaultButton(buttons.Yes)
        box.setEscapeButton(buttons.Cancel)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda result, k=key, b=box: self._answered(k, b))
        box.open()
        self.offer_box = box
        self.offered.emit(key)
        return True

    def _answered(self, key: str, box) -> None:
        """Restore, Discard, or Later (Esc, closed): the autosave stays until this study's
        work changes again."""
        buttons = QtWidgets.QMessageBox.StandardButton
        clicked = box.clickedButton()
        answer = "yes" if clicked is box.button(buttons.Yes) else "no" if clicked is box.button(buttons.No) else ""
        if self.offer_box is box:
            self.offer_box = None
        if key not in self.held:
            return
        if answer == "yes":
            self.restore(key)
        elif answer == "no":
            self.decline(key)
        else:
            self.held.discard(key)
            if self.key == key and self.document is not None and self.document.is_modified:
                self.schedule()
            if self.masks.key == key and self.masks.masks is not None and self.masks.masks.is_modified:
                self.masks.schedule()
            measured = self.measurements
            if measured.key == key and measured.measurements is not None and measured.measurements.is_modified:
                measured.schedule()

    def restore(self, key: str):
        """Load the autosave of ``key`` into the window: the report (with its draft copy) and the
        masks. Returns the report document, or None (no report autosave, or unreadable)."""
        self.held.discard(key)
        document, saved = self._restore_report(key)
        count = self.masks.restore(key)
        measured = self.measurements.restore(key)
        what = []
        if document is not None:
            what.append("the report")
        if count:
            what.append(f"{count} mask{'s' if count != 1 else ''}")
        if measured:
            what.append(f"{measured} measurement{'s' if measured != 1 else ''}")
        if what:
            when = saved or (self.masks.pending(key) or self.measurements.pending(key) or {}).get("saved", "")
            undo = " (Edit > Undo steps back through the edits)" if document is not None else ""
            self.window.status.message(f"Restored {' and '.join(what)} autosaved {_when(when)}{undo}")
        if document is not None:
            self.restored.emit(document)
        return document

    def _restore_report(self, key: str):
        try:
            payload = self.store.load(key)
            document = self.store.recover(key)
        except CtrgError as exc:
            self.window.show_error(f"Cannot restore the autosaved report: {exc}")
            return None, ""
        if document is None:
            return None, ""
        draft = self._draft_copy(key, payload.get("extra") or {})
        self._owned.add(key)
        self.timer.stop()
        self.document = None  # the report on screen is replaced, not saved over the autosave
        self.controller.adopt(document, draft)
        return document, payload.get("saved", "")

    def _draft_copy(self, key: str, extra: dict):
        from ctrg_desktop.overlays.patch_lookup import geometry_mismatch
        from ctrg_desktop.inference import load_draft

        name = extra.get("draft")
        if not name:
            return None
        try:
            draft = load_draft(self.store.root / name)
        except (CtrgError, OSError):
            return None
        volume = self.window.volume
        if volume is not None and geometry_mismatch(draft.study, volume):
            return None
        self._copied = None
        return draft

    def decline(self, key: str) -> None:
        """Drop the autosave of ``key``; the report and masks on screen are kept."""
        self.held.discard(key)
        self.discard(key)
        self.masks.decline(key)
        self.measurements.decline(key)
        if self.key == key and self.document is not None and self.document.is_modified:
            self.schedule()


def _offer_text(payload, masks, measured=None) -> str:
    parts = []
    if payload is not None:
        parts.append("an edited report that was not accepted yet")
    if masks is not None:
        count = len(masks.get("masks") or [])
        parts.append(f"{count} mask{'s' if count != 1 else ''} not saved")
    if measured is not None:
        count = len(measured.get("measurements") or [])
        parts.append(f"{count} measurement{'s' if count != 1 else ''} not saved")
    when = (payload or {}).get("saved") or (masks or {}).get("saved") or (measured or {}).get("saved", "")
    return f"This study has {' and '.join(parts)} (autosaved {_when(when)}). Restore, or discard?"


def _when(iso: str) -> str:
    try:
        return datetime.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "earlier"
