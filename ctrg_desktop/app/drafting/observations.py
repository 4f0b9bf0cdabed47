"""The model's observations (a probability per CT-RATE label, from its observation heads) under
each structure of the Structures dock, so a reader sees what the model believes before its prose.

:func:`observations_of` reads ``draft.observations`` (or the ``"observations"`` of a draft's JSON);
drafts of older models have none and show nothing. :class:`ObservationDelegate` draws a structure
row as usual plus a wrapped line beneath it, e.g. "**Cardiomegaly 91 %** · Pericardial effusion 4 %":
most probable first, labels at or above :data:`PRESENT` in bold -- or at or above their own
threshold for the labels of the model's observation guide, which the draft states from there.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.data.labels import LABEL_STRUCTURES

Qt = QtCore.Qt

PRESENT = 0.5  #: probabilities from here up are drawn bold
ROLE = Qt.ItemDataRole.UserRole + 1  #: item data: the structure's observations, most probable first
MEANING = "model's probability that the finding is present (observation head)"


@dataclass(frozen=True)
class Observation:
    label: str
    probability: float
    structure: str
    threshold: float | None = None  #: the observation guide's threshold (the draft states the label from it)

    @property
    def present(self) -> bool:
        return self.probability >= (PRESENT if self.threshold is None else self.threshold)


def observations_of(draft) -> list[Observation]:
    """A draft's observations (a DraftReport or its JSON dict); ``[]`` when it has none.
    Entries without a label or a finite probability are skipped."""
    raw = draft.get("observations") if isinstance(draft, dict) else getattr(draft, "observations", None)
    found = []
    for entry in raw or ():
        get = entry.get if isinstance(entry, dict) else (lambda key, e=entry: getattr(e, key, None))
        try:
            label, p = str(get("label") or ""), float(get("probability"))
        except (TypeError, ValueError):
            continue
        if label and math.isfinite(p):
            structure = str(get("structure") or LABEL_STRUCTURES.get(label, ""))
            try:
                threshold = None if get("threshold") is None else min(max(float(get("threshold")), 0.0), 1.0)
            except (TypeError, ValueError):
                threshold = None
            found.append(Observation(label, min(max(p, 0.0), 1.0), structure, threshold))
    return found


def by_structure(observations) -> dict[str, tuple[Observation, ...]]:
    """Structure name -> its observations, most probable first."""
    grouped: dict[str, list[Observation]] = {}
    for o in sorted(observations, key=lambda o: (-o.probability, o.label)):
        grouped.setdefault(o.structure, []).append(o)
    return {name: tuple(found) for name, found in grouped.items()}


def percent(p: float) -> str:
    """0.912 -> "91 %"; never rounds a non-zero probability to 0 % or a non-certain one to 100 %."""
    n = round(p * 100)
    return "<1 %" if n == 0 and p > 0 else ">99 %" if n == 100 and p < 1 else f"{n} %"


def line(observations) -> str:
    """The plain text of the line: "Cardiomegaly 91 % · Pericardial effusion 4 %"."""
    return " · ".join(f"{o.label} {percent(o.probability)}" for o in observations)


def line_html(observations, dim: str) -> str:
    """The line as rich text: present labels bold, the others in colour ``dim``; it wraps between
    labels (a label wider than the row still wraps anywhere)."""
    parts = []
    for o in observations:
        text = html.escape(f"{o.label} {percent(o.probability)}").replace(" ", "&nbsp;")  # breaks between labels
        parts.append(f"<b>{text}</b>" if o.present else f'<span style="color:{dim}">{text}</span>')
    return " · ".join(parts)


def tooltip(observations) -> str:
    """One label per line, then what the numbers mean."""
    rows = []
    for o in observations:
        row = f"{o.label}: {percent(o.probability)}"
        if o.threshold is not None:
            row += (f" ({'stated' if o.present else 'ruled out'} in the draft by the observation guide, "
                    f"threshold {percent(o.threshold)})")
        elif o.present:
            row += " (likely present)"
        rows.append(row)
    return "\n".join(rows + [f"Percentages: the {MEANING}."])


def _mix(a: QtGui.QColor, b: QtGui.QColor, t: float) -> str:
    return QtGui.QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3]))).name()


class ObservationDelegate(QtWidgets.QStyledItemDelegate):
    """Structure rows with their observations (item data :data:`ROLE`) wrapped beneath the name."""

    SCALE = 0.92  #: the line's font size relative to the row's

    def __init__(self, view: QtWidgets.QListView):
        super().__init__(view)
        self.view = view

    def _options(self, option, index) -> QtWidgets.QStyleOptionViewItem:
        opt = QtWidgets.QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        return opt

    def _indent(self, opt) -> int:
        """Where the structure's name starts, from the row's left edge."""
        style = opt.widget.style() if opt.widget is not None else QtWidgets.QApplication.style()
        return style.subElementRect(QtWidgets.QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget).left() \
            - opt.rect.left()

    def _head(self, option, index) -> QtWidgets.QStyleOptionViewItem:
        """``option`` cut to the usual row (check box, swatch, name) at the top of the item."""
        head = QtWidgets.QStyleOptionViewItem(option)
        height = super().sizeHint(option, index).height()
        head.rect = QtCore.QRect(option.rect.left(), option.rect.top(), option.rect.width(), height)
        return head

    def _document(self, opt, observations, indent: int, width: int, selected: bool) -> QtGui.QTextDocument:
        group = QtGui.QPalette.ColorRole.HighlightedText if selected else QtGui.QPalette.ColorRole.Text
        ground = QtGui.QPalette.ColorRole.Highlight if selected else QtGui.QPalette.ColorRole.Base
        doc = QtGui.QTextDocument()
        doc.setDocumentMargin(0)
        font = QtGui.QFont(opt.font)
        font.setPointSizeF(font.pointSizeF() * self.SCALE)
        doc.setDefaultFont(font)
        colour = opt.palette.color(group)
        dim = _mix(colour, opt.palette.color(ground), 0.3)
        doc.setHtml(f'<span style="color:{colour.name()}">{line_html(observations, dim)}</span>')
        doc.setTextWidth(max(40, width - indent - 4))
        return doc

    def sizeHint(self, option, index):  # noqa: N802
        size = super().sizeHint(option, index)
        observations = index.data(ROLE)
        if not observations:
            return size
        opt = self._options(option, index)
        opt.rect = QtCore.QRect(0, 0, self.view.viewport().width(), size.height())
        indent = self._indent(opt)
        doc = self._document(opt, observations, indent, opt.rect.width(), False)
        return QtCore.QSize(size.width(), size.height() + math.ceil(doc.size().height()) + 4)

    def paint(self, painter, option, index):
        observations = index.data(ROLE)
        if not observations:
            super().paint(painter, option, index)
            return
        opt = self._options(option, index)
        style = opt.widget.style() if opt.widget is not None else QtWidgets.QApplication.style()
        style.drawPrimitive(QtWidgets.QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, opt.widget)
        head = self._head(option, index)
        super().paint(painter, head, index)
        head_opt = self._options(head, index)
        indent = self._indent(head_opt)
        selected = bool(opt.state & QtWidgets.QStyle.StateFlag.State_Selected)
        doc = self._document(opt, observations, indent, opt.rect.width(), selected)
        painter.save()
        painter.translate(opt.rect.left() + indent, head.rect.bottom() + 1)
        doc.drawContents(painter)
        painter.restore()

    def editorEvent(self, event, model, option, index):  # noqa: N802
        """Clicks on the check box: it sits in the top part of a row with observations."""
        if index.data(ROLE):
            option = self._head(option, index)
        return super().editorEvent(event, model, option, index)
