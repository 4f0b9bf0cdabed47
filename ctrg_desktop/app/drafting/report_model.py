"""The report as a Qt item model: structures (top level) and their sentences (children).

Sentences are addressed by :class:`SentenceRef` ``(structure index, sentence index)``; the
model's content is a list of :class:`StructureRow` (plain data, built from a draft by
:func:`rows_from_draft`), so the views never read a draft directly and an editable source
(a report document) can replace it through :meth:`ReportModel.set_rows`. A structure the draft
did not mention shows its default sentence (italic, grey) as its single row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from PySide6 import QtCore, QtGui

Qt = QtCore.Qt

REF_ROLE = Qt.ItemDataRole.UserRole + 1      #: SentenceRef of a sentence row (None on structure rows)
STRUCTURE_ROLE = Qt.ItemDataRole.UserRole + 2  #: structure index of any row


class SentenceRef(NamedTuple):
    structure: int
    sentence: int


@dataclass
class StructureRow:
    index: int
    name: str
    colour: str                      #: "#rrggbb"
    sentences: list[str] = field(default_factory=list)
    default_text: str = ""           #: shown when ``sentences`` is empty

    @property
    def mentioned(self) -> bool:
        return bool(self.sentences)

    @property
    def shown_sentences(self) -> list[str]:
        return self.sentences if self.sentences else [self.default_text]


def rows_from_draft(draft) -> list[StructureRow]:
    """One row per structure of a ``DraftReport`` (its routed sentences, or its default text)."""
    return [StructureRow(index=s.index, name=s.name, colour=s.colour, sentences=list(s.sentences),
                         default_text=s.text if not s.sentences else "") for s in draft.structures]


_SWATCHES: dict[tuple[str, int], QtGui.QIcon] = {}


def swatch(colour: str, size: int = 14) -> QtGui.QIcon:
    """A filled square icon of ``colour`` (made once per colour)."""
    icon = _SWATCHES.get((colour, size))
    if icon is None:
        icon = _SWATCHES[(colour, size)] = _make_swatch(colour, size)
    return icon


def _make_swatch(colour: str, size: int) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(size, size)
    pixmap.fill(QtGui.QColor(colour))
    painter = QtGui.QPainter(pixmap)
    painter.setPen(QtGui.QColor(0, 0, 0, 140))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QtGui.QIcon(pixmap)


class ReportModel(QtCore.QAbstractItemModel):
    """Two-level tree; internal id 0 marks a structure row, ``s + 1`` a sentence of structure ``s``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[StructureRow] = []

    # --- content --------------------------------------------------------------------------
    def set_rows(self, rows: list[StructureRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def set_draft(self, draft) -> None:
        self.set_rows(rows_from_draft(draft) if draft is not None else [])

    def text(self, ref: SentenceRef) -> str:
        return self.rows[ref.structure].shown_sentences[ref.sentence]

    def refs(self, structure: int) -> list[SentenceRef]:
        """The sentence rows of ``structure`` (one for an unmentioned structure: its default text)."""
        return [SentenceRef(structure, n) for n in range(len(self.rows[structure].shown_sentences))]

    # --- addressing -----------------------------------------------------------------------
    def structure_index(self, structure: int) -> QtCore.QModelIndex:
        return self.createIndex(structure, 0, 0) if 0 <= structure < len(self.rows) else QtCore.QModelIndex()

    def index_of(self, ref: SentenceRef) -> QtCore.QModelIndex:
        if not 0 <= ref.structure < len(self.rows):
            return QtCore.QModelIndex()
        if not 0 <= ref.sentence < len(self.rows[ref.structure].shown_sentences):
            return QtCore.QModelIndex()
        return self.createIndex(ref.sentence, 0, ref.structure + 1)

    def ref(self, index: QtCore.QModelIndex) -> SentenceRef | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        return SentenceRef(int(index.internalId()) - 1, index.row())

    def structure_of(self, index: QtCore.QModelIndex) -> int | None:
        if not index.isValid():
            return None
        return index.row() if index.internalId() == 0 else int(index.internalId()) - 1

    # --- QAbstractItemModel ---------------------------------------------------------------
    def index(self, row, column, parent=QtCore.QModelIndex()):  # noqa: B008
        if column != 0:
            return QtCore.QModelIndex()
        if not parent.isValid():
            return self.structure_index(row)
        if parent.internalId() == 0 and 0 <= row < len(self.rows[parent.row()].shown_sentences):
            return self.createIndex(row, 0, parent.row() + 1)
        return QtCore.QModelIndex()

    def parent(self, index=QtCore.QModelIndex()):  # noqa: B008
        if not index.isValid() or index.internalId() == 0:
            return QtCore.QModelIndex()
        return self.structure_index(int(index.internalId()) - 1)

    def rowCount(self, parent=QtCore.QModelIndex()):  # noqa: N802, B008
        if not parent.isValid():
            return len(self.rows)
        if parent.internalId() == 0:
            return len(self.rows[parent.row()].shown_sentences)
        return 0

    def columnCount(self, parent=QtCore.QModelIndex()):  # noqa: N802, B008
        return 1

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        structure = self.structure_of(index)
        row = self.rows[structure]
        ref = self.ref(index)
        if role == REF_ROLE:
            return ref
        if role == STRUCTURE_ROLE:
            return structure
        if ref is None:  # a structure row
            if role == Qt.ItemDataRole.DisplayRole:
                count = len(row.sentences)
                return f"{row.name}  ({count} sentence{'s' if count != 1 else ''})" if count else \
                    f"{row.name}  (not mentioned)"
            if role == Qt.ItemDataRole.DecorationRole:
                return swatch(row.colour)
            if role == Qt.ItemDataRole.FontRole:
                font = QtGui.QFont()
                font.setBold(True)
                return font
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.text(ref)
        if not row.mentioned:
            if role == Qt.ItemDataRole.FontRole:
                font = QtGui.QFont()
                font.setItalic(True)
                return font
            if role == Qt.ItemDataRole.ForegroundRole:
                return QtGui.QBrush(QtGui.QColor(130, 130, 130))
        return None
