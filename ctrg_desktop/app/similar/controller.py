"""The "Similar cases" dock in the main window (``window.similar``), bound to the draft on screen
and to the report document the reader edits.

A draft on screen (drafted, or a saved draft or report opened for review without a model) ->
the drafting model's reference index (:mod:`.lookup`) is queried with the draft's observation
logits for the :data:`K` nearest cases; each shows its chips against the current report, which
are recoloured after every edit. Insert sentence adds the chosen sentence to the structure its
words route it to, through the editing controller (one undo step); Diff shows the case against
the current report. No index, or one that cannot be used: one line in the dock, never an error box.
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.similar.diff_dialog import ReferenceDiffDialog, routed
from ctrg_desktop.app.similar.lookup import IndexCache, IndexUnavailable, draft_logits, study_patient
from ctrg_desktop.app.similar.panel import SimilarCasesPanel
from ctrg_desktop.reports.parser import match_structures
from ctrg_desktop.retrieval.status import report_statuses

Qt = QtCore.Qt
K = 3  #: similar cases shown
TITLE = "Similar cases"


class SimilarCasesController(QtCore.QObject):
    """Signal ``cases_shown(neighbours)`` after every refresh (``[]`` with a message in the dock)."""

    cases_shown = QtCore.Signal(list)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.cache = IndexCache()
        self.panel = SimilarCasesPanel()
        self.dock: QtWidgets.QDockWidget | None = None
        self.neighbours: list = []
        self.index = None
        self.query_ms: float | None = None  #: the last query's time (index load excluded)
        self.diff_dialog: ReferenceDiffDialog | None = None
        self.panel.insert_requested.connect(self.insert_sentence)
        self.panel.diff_requested.connect(self.show_diff)
        # after the editing controller's handler: the draft's document exists when this runs
        window.drafting.draft_shown.connect(lambda _draft: self.refresh())
        window.editing.document_set.connect(self._document_set)
        window.editing.document_changed.connect(lambda _change: self._recolour())
        window.study_opened.connect(self._study_opened)

    # --- dock and menu --------------------------------------------------------------------
    def add_dock(self) -> None:
        """The dock, tabbed with the Structures dock (shown from View > Similar cases)."""
        window = self.window
        dock = QtWidgets.QDockWidget(TITLE, window)
        dock.setObjectName("dock-similar-cases")
        dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        if "Structures" in window.docks:
            window.tabifyDockWidget(window.docks["Structures"], dock)
            window.docks["Structures"].raise_()
        window.docks[TITLE] = dock
        self.dock = dock

    def build_menu(self, view_menu) -> list:
        """View > Similar cases: shows or hides the dock."""
        action = self.dock.toggleViewAction()
        action.setText("&Similar cases")
        action.setToolTip("The most similar prior cases of the draft, from the model's reference index")
        view_menu.addAction(action)
        return [action]

    def show_dock(self) -> None:
        self.dock.show()
        self.dock.raise_()

    # --- the cases ------------------------------------------------------------------------
    def clear(self, message: str | None = None) -> None:
        self.neighbours, self.index = [], None
        if message is None:
            self.panel.clear()
        else:
            self.panel.clear(message)

    def refresh(self) -> list:
        """Query the index for the draft on screen; returns the cases shown (``[]``: see the dock's line)."""
        draft = self.window.drafting.draft
        if draft is None:
            self.clear()
            self.cases_shown.emit([])
            return []
        model = draft.model or {}
        try:
            logits = draft_logits(draft.observations)
            index = self.cache.index_for(model)
        except IndexUnavailable as exc:
            self.clear(str(exc))
            self.cases_shown.emit([])
            return []
        started = time.perf_counter()
        patient = study_patient(draft.study)
        neighbours = index.query(logits, k=K, exclude_patients=[patient] if patient else ())
        self.query_ms = (time.perf_counter() - started) * 1000.0
        self.index, self.neighbours = index, neighbours
        name = model.get("name", "?")
        message = (f"The {len(neighbours)} cases nearest to this draft among {len(index)} in the index of {name} "
                   "(\u2713 agrees, \u2717 disagrees with the current report)" if neighbours
                   else f"The index of {name} holds no cases")
        self.panel.set_cases(neighbours, self.current_statuses(), message, self.window.editing.document is not None)
        self.cases_shown.emit(list(neighbours))
        return neighbours

    def current_text(self) -> str:
        """The current report: the edited document's text, else the draft's."""
        document = self.window.editing.document
        if document is not None:
            return document.report_text()
        draft = self.window.drafting.draft
        return draft.report if draft is not None else ""

    def current_statuses(self):
        """(18,) labeller statuses (0..3) of the current report."""
        return report_statuses(self.current_text())

    def _recolour(self) -> None:
        if self.panel.cards:
            self.panel.set_current(self.current_statuses())

    def _document_set(self, document) -> None:
        self.panel.set_can_insert(document is not None)
        self._recolour()

    def _study_opened(self, _volume) -> None:
        if self.window.drafting.draft is None:  # a review opened with the study has shown its draft already
            self.clear()

    # --- actions --------------------------------------------------------------------------
    def insert_sentence(self, text: str) -> str:
        """Add ``text`` to the current report in the structure its words route it to (``others``
        when none), as one undoable edit; returns the new sentence's id ("" when refused)."""
        editing = self.window.editing
        document = editing.document
        if document is None:
            self.window.status.message("No report to insert into: draft a report or open one first")
            return ""
        hits = match_structures(text, document.structure_set)
        structure = hits[0] if hits else document.structure_set.others_index
        sid = editing.add_sentence(structure, text)
        if sid:
            ref = editing.panel.model.ref_of(sid)
            if ref is not None:
                editing.panel.select_sentence(ref)
            self.window.status.message(f"Inserted into {document.structures[structure].name} "
                                       "(Edit > Undo removes it)")
        return sid

    def show_diff(self, neighbour):
        """Open the case's report against the current report (non-modal; returns the dialog)."""
        from ctrg_desktop.reports.structures import load_structure_set

        if self.diff_dialog is not None:
            self.diff_dialog.close()
        document = self.window.editing.document
        if document is not None:
            structure_set = document.structure_set

            def current():
                return [[s.text for s in section.sentences] for section in document.structures]
        else:
            draft = self.window.drafting.draft
            structure_set = load_structure_set((draft.model or {}).get("structure_set") or "chest_ct")
            text = draft.report

            def current():
                return routed(text, structure_set)
        dialog = ReferenceDiffDialog(neighbour, current, structure_set, document, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _=0, d=dialog: self._diff_closed(d))
        dialog.show()
        dialog.raise_()
        self.diff_dialog = dialog
        return dialog

    def _diff_closed(self, dialog) -> None:
        if self.diff_dialog is dialog:
            self.diff_dialog = None
