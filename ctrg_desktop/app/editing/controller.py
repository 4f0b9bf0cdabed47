"""Correcting the draft in the window: one :class:`EditingController` per window (``window.editing``).

When a draft is shown (drafted, or opened for review) it becomes an editable
:class:`~ctrg_desktop.reports.document.ReportDocument` bound to the Report dock. Every change
is one undo step (Edit > Undo / Redo), is autosaved within a second, and can be compared with
the model's draft, saved (Report > Save report: what the reader sees, the draft kept inside),
exported (Report > Export) or accepted into the corrections dataset (Report > Accept report).
Opening a study with an autosaved, unaccepted report or unsaved masks offers to restore them
(``CTRG_RESTORE=yes|no`` answers without asking); closing the window, opening another study or
drafting again with unsaved work asks Save / Discard / Cancel first (``CTRG_UNSAVED``).

Showing the same draft again for the same study keeps the edited document; another draft
starts a new one.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.drafting.report_model import SentenceRef
from ctrg_desktop.app.editing.accept import AcceptAction
from ctrg_desktop.app.editing.autosave_binding import AutosaveBinding
from ctrg_desktop.app.editing.document_binding import DocumentBinding
from ctrg_desktop.app.editing.export_actions import ExportActions
from ctrg_desktop.app.editing.report_files import ReportFiles
from ctrg_desktop.app.editing.sentence_editor import SentenceEditor
from ctrg_desktop.app.editing.unsaved_prompt import UnsavedPrompt
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.autosave import study_key
from ctrg_desktop.reports.document import ReportDocument
from ctrg_desktop.reports.unsaved import UnsavedWork, unsaved_work

MODEL_IDENTITY = ("name", "version", "config_hash")


def same_draft(draft, document) -> bool:
    """Whether ``document`` was built from ``draft`` (same generated text, same model)."""
    model = draft.model or {}
    return draft.report == document.draft_text and all(model.get(k) == document.model.get(k)
                                                       for k in MODEL_IDENTITY)


class EditingController(QtCore.QObject):
    """Signals: ``document_set(document or None)`` when a report becomes editable (or none is),
    ``document_changed(DocumentChange)`` after every edit, undo and redo."""

    document_set = QtCore.Signal(object)
    document_changed = QtCore.Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.drafting = window.drafting
        self.document: ReportDocument | None = None
        self.draft = None
        self.study_key = ""
        self.binding: DocumentBinding | None = None
        self.undo_action = self.redo_action = None  # set by the Edit menu
        self.keywords_dialog = self.diff_dialog = None
        self._adopting: ReportDocument | None = None
        self.editor = SentenceEditor(self.drafting.report_panel, self)
        self.autosave = AutosaveBinding(self)
        self.exports = ExportActions(self)
        self.acceptor = AcceptAction(self)
        self.files = ReportFiles(self)
        self.prompt = UnsavedPrompt(self)
        segmentation = getattr(window, "segmentation", None)
        if segmentation is not None:
            segmentation.masks_changed.connect(self.autosave.masks.schedule)
        measuring = getattr(window, "measuring", None)
        if measuring is not None:
            measuring.changed.connect(self.autosave.measurements.schedule)
        self.drafting.draft_shown.connect(self._on_draft_shown)
        window.study_opened.connect(self._on_study_opened)  # after the drafting controller's handler
        from ctrg_desktop.app.editing.scripted_edits import install_from_env

        self.script = install_from_env(self)  # CTRG_APPLY_EDITS (tests)

    # --- which document -------------------------------------------------------------------
    @property
    def panel(self):
        return self.drafting.report_panel

    def set_document(self, document: ReportDocument | None, draft=None, key: str = "") -> None:
        """Show ``document`` (built from ``draft``, for study ``key``) in the Report dock, editable."""
        if self.binding is not None:
            self.binding.detach()
            self.binding = None
        if self.document is not None and self.document is not document:
            self.document.remove_listener(self._changed)
        self.document, self.draft, self.study_key = document, draft, key
        if document is not None:
            self.binding = DocumentBinding(self.panel, document, self.edit_text, self._dropped)
            document.add_listener(self._changed)
        self.editor.set_enabled(document is not None)
        self.autosave.watch(document, key, draft)
        self._update_state()
        self.document_set.emit(document)

    def _on_draft_shown(self, draft) -> None:
        volume = self.window.volume
        key = study_key(volume) if volume is not None else ""
        adopting, self._adopting = self._adopting, None
        if adopting is not None:
            self.set_document(adopting, draft, key)
            return
        opened = self.drafting.opened_file(draft)
        self.files.opened(opened)
        if opened is not None and opened.document is not None:  # a saved report: the reader's edits
            opened.document.study_key = key
            self.set_document(opened.document, draft, key)
            return
        if self.document is not None and self.study_key == key and same_draft(draft, self.document):
            self.set_document(self.document, draft, key)  # the same draft again: the edits stay
            if self.document.is_modified:
                self.window.status.message("The same draft again: your edits of it are kept (Edit > Undo)")
            return
        try:
            document = ReportDocument.from_draft(draft, study_key=key)
        except CtrgError as exc:
            self.set_document(None)
            self.window.show_error(f"This draft cannot be edited: {exc}")
            return
        self.set_document(document, draft, key)

    def _on_study_opened(self, volume) -> None:
        self.autosave.flush()  # the previous study's last edits
        if self.drafting.draft is None:  # a review opened with the study shows its draft at once
            self.set_document(None)
        key = study_key(volume)
        segmentation = getattr(self.window, "segmentation", None)
        if segmentation is not None:  # its handler made the new study's mask set already
            self.autosave.masks.watch(segmentation.masks, key)
        measuring = getattr(self.window, "measuring", None)
        if measuring is not None:  # its set for the new study was made when the volume changed
            self.autosave.measurements.watch(measuring.measurements, key)
        self.files.study_opened()
        self.autosave.offer(key)

    def adopt(self, document: ReportDocument, draft=None) -> None:
        """Show a restored ``document``: with the draft on screen when it is the document's,
        else with ``draft`` (its saved copy), else without evidence."""
        key = document.study_key
        current = self.drafting.draft
        if current is not None and same_draft(current, document):
            self.set_document(document, current, key)
            return
        if draft is not None and same_draft(draft, document):
            self._adopting = document
            self.drafting.show_draft(draft)  # draft_shown -> set_document(document)
            if self._adopting is None:
                return
            self._adopting = None
        self.drafting.clear()
        self.panel.header.setText(f"<b>{document.model.get('name', '?')}</b> (restored report; the draft's "
                                  "evidence is not available)")
        self.set_document(document, None, key)

    def clear(self) -> None:
        self.set_document(None)

    # --- edits (the widgets and menus call these; errors are shown, never raised) ----------
    def _apply(self, action) -> tuple[bool, object]:
        """``action(document)``; (False, None) with the problem shown when there is no document
        or the edit is refused."""
        if self.document is None:
            self.window.status.message("No report to edit: draft a report or open one first")
            return False, None
        try:
            return True, action(self.document)
        except CtrgError as exc:
            self.window.show_error(str(exc))
            return False, None

    def sentence_id(self, ref: SentenceRef) -> str:
        return self.panel.model.sentence_id(ref)

    def edit_text(self, ref: SentenceRef, text: str) -> bool:
        """Change ``ref``'s text. Empty text deletes the sentence; text on an unmentioned
        structure's default row adds a sentence (the default text itself changes nothing)."""
        sid = self.sentence_id(ref)
        cleaned = " ".join(str(text).split())
        if not sid:
            row = self.panel.model.rows[ref.structure]
            if not cleaned or cleaned == row.default_text:
                return False
            return bool(self.add_sentence(ref.structure, cleaned))
        if not cleaned:
            return self.delete_sentences([ref]) > 0
        return self._apply(lambda d: d.edit_text(sid, cleaned))[0]

    def add_sentence(self, structure: int | str, text: str, position: int | None = None) -> str:
        """Add a sentence to ``structure`` (at the end, or at ``position``); returns its id ("" on error)."""
        return self._apply(lambda d: d.add_sentence(structure, text, position))[1] or ""

    def delete_sentences(self, refs) -> int:
        """Delete sentences (default rows are skipped); returns how many."""
        ids = [sid for sid in (self.sentence_id(r) for r in refs) if sid]
        if not ids:
            return 0
        ok, _ = self._apply(lambda d: [d.delete_sentence(sid) for sid in ids])
        if ok:
            self.window.status.message(f"Deleted {len(ids)} sentence(s) (Edit > Undo brings them back)")
        return len(ids) if ok else 0

    def move_by(self, ref: SentenceRef, delta: int) -> bool:
        """Move a sentence ``delta`` places within its structure (False at either end)."""
        sid = self.sentence_id(ref)
        if not sid or self.document is None:
            return False
        position = ref.sentence + delta
        if not 0 <= position < len(self.document.structures[ref.structure].sentences):
            return False
        return self._apply(lambda d: d.move_sentence(sid, position))[0]

    def move_to_structure(self, refs, structure: int, position: int | None = None) -> bool:
        """Move sentences to ``structure``: at its end, or before its sentence at ``position``
        (counted before the move); the moved sentences keep their order."""
        ids = [sid for sid in (self.sentence_id(r) for r in refs) if sid]
        if not ids or self.document is None:
            return False
        target = [s.id for s in self.document.structures[structure].sentences]
        anchor = None if position is None else next((sid for sid in target[position:] if sid not in ids), None)

        def move(document) -> None:
            for sid in ids:
                if anchor is None:
                    document.move_to_structure(sid, structure)
                    continue
                at = document.locate(anchor)[1]
                home, place = document.locate(sid)
                document.move_to_structure(sid, structure, at - int(home == structure and place < at))

        ok, _ = self._apply(move)
        if ok:
            moved = self.panel.model.ref_of(ids[0])
            if moved is not None:  # show where it went
                self.panel.select_sentence(moved)
            self.window.status.message(f"Moved {len(ids)} sentence(s) to {self.document.structures[structure].name}")
        return ok

    def _dropped(self, refs, structure: int, position: int) -> bool:
        return self.move_to_structure(refs, structure, position)

    def set_keywords(self, structure: int | str, keywords, reroute: bool = True) -> int:
        """Replace a structure's keywords, then (``reroute``) route every sentence again with
        the edited keywords; returns how many sentences changed place (-1 on error)."""
        ok, _ = self._apply(lambda d: d.set_keywords(structure, keywords))
        if not ok:
            return -1
        return self.reroute() if reroute else 0

    def reroute(self) -> int:
        """Route every sentence again with the document's keywords; how many moved (-1 on error)."""
        ok, moved = self._apply(lambda d: d.reroute())
        if not ok:
            return -1
        self.window.status.message(f"Rerouted: {moved} sentence(s) changed structure" if moved else
                                   "Rerouted: every sentence stays where it is")
        return moved

    def undo(self) -> bool:
        return bool(self.document is not None and self.document.undo())

    def redo(self) -> bool:
        return bool(self.document is not None and self.document.redo())

    # --- dialogs --------------------------------------------------------------------------
    def edit_keywords(self, structure: int | str = 0):
        """Open the keywords dialog of ``structure`` (non-modal; returns it)."""
        from ctrg_desktop.app.editing.keywords_dialog import KeywordsDialog

        if self.document is None:
            self.window.status.message("No report: draft a report or open one first")
            return None
        index = self.document._index(structure)
        dialog = KeywordsDialog(self, index, self.window)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.keywords_dialog = dialog
        return dialog

    def show_diff(self):
        """Open (or raise) the changes dialog: the edited report against the model's draft."""
        from ctrg_desktop.app.editing.diff_dialog import DiffDialog

        if self.document is None:
            self.window.status.message("No report: draft a report or open one first")
            return None
        dialog = self.diff_dialog
        if dialog is None or dialog.document is not self.document:
            if dialog is not None:
                dialog.close()
            dialog = self.diff_dialog = DiffDialog(self.document, self.window)
            dialog.finished.connect(lambda _=0, d=dialog: self._diff_closed(d))
        dialog.show()
        dialog.raise_()
        return dialog

    def _diff_closed(self, dialog) -> None:
        dialog.detach()
        if self.diff_dialog is dialog:
            self.diff_dialog = None

    # --- state ----------------------------------------------------------------------------
    def _changed(self, document, change) -> None:
        self._update_state()
        self.autosave.schedule()
        self.document_changed.emit(change)

    def _update_state(self) -> None:
        document = self.document
        for act, able, label, verb in ((self.undo_action, "can_undo", "undo_label", "&Undo"),
                                       (self.redo_action, "can_redo", "redo_label", "&Redo")):
            if act is None:
                continue
            on = document is not None and getattr(document, able)
            act.setEnabled(on)
            act.setText(f"{verb} {getattr(document, label)}" if on else verb)
        if document is None:
            return
        edited = document.diff().is_changed
        self.editor.set_state(("Edited" if edited else "As drafted")
                              + (", not accepted" if document.is_modified and edited else ""))

    def would_replace(self, draft, opened=None) -> bool:
        """Whether showing ``draft`` (read from ``opened``) replaces the report on screen; the same
        draft again keeps its edits, a saved report brings its own."""
        document = self.document
        if document is None:
            return False
        return (opened is not None and opened.document is not None) or not same_draft(draft, document)

    def unsaved(self, report: bool = True, masks: bool = True, measurements: bool = True) -> UnsavedWork:
        """The report edits, mask and measurement changes that were not saved (or accepted)."""
        segmentation = getattr(self.window, "segmentation", None)
        measuring = getattr(self.window, "measuring", None)
        return unsaved_work(self.document if report else None,
                            segmentation.masks if masks and segmentation is not None else None,
                            measuring.measurements if measurements and measuring is not None else None)

    def discard_work(self, work: UnsavedWork) -> None:
        """The reader discarded ``work``: its autosaves go and are not written again."""
        if work.report:
            self.autosave.drop()
        if work.masks:
            self.autosave.masks.drop()
        if work.measurements:
            self.autosave.measurements.drop()

    def masks(self) -> list:
        """The segmentation tool's masks (``window.segmentation.mask_specs()``), or none."""
        segmentation = getattr(self.window, "segmentation", None)
        provider = getattr(segmentation, "mask_specs", None)
        return list(provider()) if callable(provider) else []

    def shutdown(self) -> None:
        """The window closes: write the last edits, finish exports and accepts."""
        for dialog in (self.keywords_dialog, self.diff_dialog):
            if dialog is not None:
                try:
                    dialog.close()
                except RuntimeError:  # already deleted
                    pass
        self.autosave.flush()
        self.autosave.masks.shutdown()
        self.autosave.measurements.shutdown()
        self.exports.wait()
        self.acceptor.wait()


def message_box(parent, title: str, text: str, icon=QtWidgets.QMessageBox.Icon.Information):
    """A non-blocking message box kept alive by ``parent.note_box``."""
    box = QtWidgets.QMessageBox(icon, title, text, parent=parent)
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    parent.note_box = box
    return box
