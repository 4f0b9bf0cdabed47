"""The widget of the "Similar cases" dock: one status line, then a card per similar case
(:class:`~.case_card.CaseCard`), nearest first, in a scroll area."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.similar.case_card import CaseCard

Qt = QtCore.Qt
EMPTY_TEXT = "Draft a report, or open a saved one, to see the most similar prior cases."


class SimilarCasesPanel(QtWidgets.QWidget):
    """Signals (from any card): ``insert_requested(text)``, ``diff_requested(neighbour)``."""

    insert_requested = QtCore.Signal(str)
    diff_requested = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.message = QtWidgets.QLabel(EMPTY_TEXT)
        self.message.setObjectName("similar-message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cards: list[CaseCard] = []
        self._body = QtWidgets.QWidget()
        self._cards_layout = QtWidgets.QVBoxLayout(self._body)
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._body)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll = scroll
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 1)

    def clear(self, message: str = EMPTY_TEXT) -> None:
        """No cases; ``message`` in the status line."""
        for card in self.cards:
            self._cards_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self.message.setText(message)

    def set_cases(self, neighbours, current_statuses, message: str, can_insert: bool) -> None:
        """Show ``neighbours`` (nearest first) with chips against the current report's statuses."""
        self.clear(message)
        for rank, neighbour in enumerate(neighbours, 1):
            card = CaseCard(rank, neighbour, current_statuses)
            card.set_can_insert(can_insert)
            card.insert_requested.connect(self.insert_requested)
            card.diff_requested.connect(self.diff_requested)
            self._cards_layout.insertWidget(self._cards_layout.count() - 1, card)
            self.cards.append(card)

    def set_current(self, current_statuses) -> None:
        """The current report changed: recolour every card's chips."""
        for card in self.cards:
            card.set_current(current_statuses)

    def set_can_insert(self, on: bool) -> None:
        for card in self.cards:
            card.set_can_insert(on)
