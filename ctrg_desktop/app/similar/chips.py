"""Label chips of a similar case: one per CT-RATE label stated in either report, green when the
case agrees with the current report, red when it disagrees; the tooltip says which way.

Statuses (0 absent, 1 negated, 2 uncertain, 3 positive) come from the project's labeller: for the
current report on its text now, for the case from the index. A label counts as present when
uncertain or positive; the two reports agree on it when both have it present or both not.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.data.labels import CT_RATE_LABELS

Qt = QtCore.Qt

#: how a report states a label, by status
STATE_WORDS = ("does not mention it", "rules it out", "calls it possible", "states it")
#: (text, background, border) of agreeing and disagreeing chips
AGREE_STYLE = ("#1b5e20", "#c8e6c9", "#66bb6a")
DISAGREE_STYLE = ("#b71c1c", "#ffcdd2", "#e57373")


@dataclass(frozen=True)
class Chip:
    label: str
    current: int    #: the label's status in the current report (0..3)
    reference: int  #: its status in the similar case's report (0..3)

    @property
    def agrees(self) -> bool:
        return (self.current >= 2) == (self.reference >= 2)

    @property
    def text(self) -> str:
        return ("\u2713 " if self.agrees else "\u2717 ") + self.label

    @property
    def tooltip(self) -> str:
        verdict = "agrees" if self.agrees else "disagrees"
        return (f"{self.label}: the case {verdict} with the current report. The current report "
                f"{STATE_WORDS[self.current]}; the case {STATE_WORDS[self.reference]}.")


def label_chips(current, reference) -> list[Chip]:
    """Chips of the labels stated (status > 0) in either report, disagreements first, then in
    CT-RATE order. ``current``, ``reference``: (18,) statuses 0..3."""
    cur, ref = [int(s) for s in current], [int(s) for s in reference]
    if len(cur) != len(CT_RATE_LABELS) or len(ref) != len(CT_RATE_LABELS):
        raise ValueError(f"need {len(CT_RATE_LABELS)} statuses on both sides, got {len(cur)} and {len(ref)}")
    if any(not 0 <= s <= 3 for s in cur + ref):
        raise ValueError("statuses must lie in 0..3")
    chips = [Chip(label, c, r) for label, c, r in zip(CT_RATE_LABELS, cur, ref) if c or r]
    return sorted(chips, key=lambda chip: chip.agrees)  # stable: CT-RATE order within each group


class FlowLayout(QtWidgets.QLayout):
    """Lays its widgets out left to right, wrapping to the next line (the chips of one case)."""

    def __init__(self, parent=None, spacing: int = 4):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item):  # noqa: N802
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect):  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self):  # noqa: N802
        return self.minimumSize()

    def minimumSize(self):  # noqa: N802
        size = QtCore.QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QtCore.QRect, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and line > 0:
                x, y, line = rect.x(), y + line + self._spacing, 0
            if move:
                item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line = max(line, hint.height())
        return y + line - rect.y()


def chip_label(chip: Chip) -> QtWidgets.QLabel:
    """A rounded, coloured label for ``chip`` with its tooltip."""
    text, background, border = AGREE_STYLE if chip.agrees else DISAGREE_STYLE
    label = QtWidgets.QLabel(chip.text)
    label.setObjectName("similar-chip")
    label.setProperty("agrees", chip.agrees)
    label.setToolTip(chip.tooltip)
    label.setStyleSheet(f"QLabel {{ color: {text}; background: {background}; border: 1px solid {border}; "
                        "border-radius: 8px; padding: 1px 6px; }")
    return label


class ChipRow(QtWidgets.QWidget):
    """The chips of one case, wrapped to the width of the dock."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.flow = FlowLayout(self)
        self.chips: list[Chip] = []

    def set_chips(self, chips: list[Chip]) -> None:
        while self.flow.count():
            item = self.flow.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.chips = list(chips)
        for chip in self.chips:
            self.flow.addWidget(chip_label(chip))
        if not self.chips:
            none = QtWidgets.QLabel("<i>neither report states a CT-RATE label</i>")
            none.setObjectName("similar-no-chips")
            self.flow.addWidget(none)
        self.updateGeometry()

    def labels(self) -> list[QtWidgets.QLabel]:
        """The chip widgets, in order."""
        widgets = (self.flow.itemAt(i).widget() for i in range(self.flow.count()))
        return [w for w in widgets if w is not None and w.objectName() == "similar-chip"]
