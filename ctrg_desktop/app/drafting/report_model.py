"""The report as a Qt item model: structures (top level) and their sentences (children).

Sentences are addressed by :class:`SentenceRef` ``(structure index, sentence index)``; the
model's content is a list of :class:`StructureRow` (plain data, built from a draft by
:func:`rows_from_draft`), so the views never read a draft directly and an editable source
(a report document) can replace it through :meth:`ReportModel.set_rows` (a full reset) or
:meth:`ReportModel.update_rows` (in place when only texts changed). A structure the draft did
not mention shows its default sentence (italic, grey) as its single row.

Editing (off by default, :attr:`ReportModel.editable`): the model never changes its rows itself;
an inline edit calls ``on_edit(ref, text)`` and a drag-and-drop ``on_move(refs, structure,
position)`` (``position`` counts the structure's sentences before the drop, the dragged ones
included); the owner applies the change to its document and pushes new rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from PySide6 import QtCore, QtGui

Qt = QtCore.Qt

REF_ROLE = Qt.ItemDataRole.UserRole + 1      #: SentenceRef of a sentence row (None on structure rows)
STRUCTURE_ROLE = Qt.ItemDataRole.UserRole + 2  #: structure index of any row
ID_ROLE = Qt.ItemDataRole.UserRole + 3         #: the sentence's document id ("" when unknown)
MIME_TYPE = "application/x-ctrg-sentence-refs"  #: drag payload: JSON list of [structure, sentence]
#: sentence origins shown differently: the reader's own sentences and changed model sentences
USER_COLOUR, EDITED_COLOUR = "#1565c0", "#6a1b9a"


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
    ids: list[str] = field(default_factory=list)      #: document ids of ``sentences`` (may be empty)
    origins: list[str] = field(default_factory=list)  #: "model", "edited" or "user" per sentence (may be empty)
    notes: list[str] = field(default_factory=list)    #: tooltip line per sentence (may be empty)

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
        self.editable = False
        self.on_edit: Callable[[SentenceRef, str], bool] | None = None
        self.on_move: Callable[[list[SentenceRef], int, int], bool] | None = None
        self.highlighted: set[int] = set()  #: structures whose sentences are tinted (the ticked ones)

    # --- content --------------------------------------------------------------------------
    def set_rows(self, rows: list[StructureRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def update_rows(self, rows: list[StructureRow]) -> bool:
        """Take ``rows``; in place (``dataChanged`` for the rows that differ, selection and
        editors kept) when every row holds the same sentence as before (only texts changed, or a
        default row became a sentence or back), else a reset. Returns True when it was in place."""
        rows = list(rows)

        def same(a: StructureRow, b: StructureRow) -> bool:
            if len(a.shown_sentences) != len(b.shown_sentences):
                return False
            return a.ids == b.ids or not a.sentences or not b.sentences

        same_shape = len(rows) == len(self.rows) and all(same(a, b) for a, b in zip(self.rows, rows))
        if not same_shape:
            self.set_rows(rows)
            return False
        old, self.rows = self.rows, rows
        for s, (a, b) in enumerate(zip(old, rows)):
            if a == b:
                continue
            self.dataChanged.emit(self.structure_index(s), self.structure_index(s))
            for n in range(len(b.shown_sentences)):
                index = self.createIndex(n, 0, s + 1)
                self.dataChanged.emit(index, index)
        return True

    def set_highlighted(self, structures) -> None:
        """Tint the sentences of ``structures`` (those ticked in the Structures panel) in their colour."""
        structures = {int(s) for s in structures}
        changed, self.highlighted = structures ^ self.highlighted, structures
        for s in changed:
            if s < len(self.rows) and self.rows[s].shown_sentences:
                last = len(self.rows[s].shown_sentences) - 1
                self.dataChanged.emit(self.createIndex(0, 0, s + 1), self.createIndex(last, 0, s + 1),
                                      [Qt.ItemDataRole.BackgroundRole])

    def sentence_id(self, ref: SentenceRef) -> str:
        """The document id of ``ref`` ("" for a default row or rows without ids)."""
        row = self.rows[ref.structure]
        return row.ids[ref.sentence] if ref.sentence < len(row.ids) and row.mentioned else ""

    def ref_of(self, sentence_id: str) -> SentenceRef | None:
        for row in self.rows:
            if sentence_id in row.ids:
                return SentenceRef(row.index, row.ids.index(sentence_id))
        return None

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
            return Qt.ItemFlag.ItemIsDropEnabled if self.editable else Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not self.editable:
            return flags
        flags |= Qt.ItemFlag.ItemIsDropEnabled
        ref = self.ref(index)
        if ref is not None:
            flags |= Qt.ItemFlag.ItemIsEditable
            if self.rows[ref.structure].mentioned:
                flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802
        """An inline edit: handed to ``on_edit``; the owner pushes the new rows."""
        ref = self.ref(index)
        if role != Qt.ItemDataRole.EditRole or ref is None or not self.editable or self.on_edit is None:
            return False
        return bool(self.on_edit(ref, str(value)))

    # --- drag and drop --------------------------------------------------------------------
    def supportedDropActions(self):  # noqa: N802
        return Qt.DropAction.MoveAction

    def supportedDragActions(self):  # noqa: N802
        return Qt.DropAction.MoveAction

    def mimeTypes(self):  # noqa: N802
        return [MIME_TYPE]

    def mimeData(self, indexes):  # noqa: N802
        refs = sorted({r for r in (self.ref(i) for i in indexes) if r is not None and self.sentence_id(r)})
        data = QtCore.QMimeData()
        data.setData(MIME_TYPE, json.dumps([list(r) for r in refs]).encode())
        return data

    def drop_target(self, row: int, parent: QtCore.QModelIndex) -> tuple[int, int] | None:
        """(structure, position among its sentences) of a drop at ``row`` under ``parent``
        (on a structure row: at its end; on a sentence: before it), or None."""
        if not parent.isValid():
            return None
        structure = self.structure_of(parent)
        count = len(self.rows[structure].sentences)
        ref = self.ref(parent)
        if ref is not None:
            position = ref.sentence if row < 0 else ref.sentence + 1
        else:
            position = count if row < 0 else row
        return structure, max(0, min(position, count))

    def canDropMimeData(self, data, action, row, column, parent):  # noqa: N802
        return (self.editable and data.hasFormat(MIME_TYPE) and action == Qt.DropAction.MoveAction
                and self.drop_target(row, parent) is not None)

    def dropMimeData(self, data, action, row, column, parent):  # noqa: N802
        """Hand the move to ``on_move``; returns False so the view never removes rows itself."""
        if not self.canDropMimeData(data, action, row, column, parent) or self.on_move is None:
            return False
        try:
            refs = [SentenceRef(int(s), int(n)) for s, n in json.loads(bytes(data.data(MIME_TYPE)).decode())]
        except (ValueError, TypeError):
            return False
        structure, position = self.drop_target(row, parent)
        self.on_move(refs, structure, position)
        return False

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
        if role == ID_ROLE:
            return self.sentence_id(ref) if ref is not None else ""
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
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.text(ref)
        if role == Qt.ItemDataRole.BackgroundRole:
            if structure not in self.highlighted:
                return None
            tint = QtGui.QColor(row.colour)
            tint.setAlpha(70)
            return QtGui.QBrush(tint)
        if role == Qt.ItemDataRole.ToolTipRole:
            note = row.notes[ref.sentence] if row.mentioned and ref.sentence < len(row.notes) else ""
            return f"{self.text(ref)}\n\n{note}" if note else self.text(ref)
        origin = row.origins[ref.sentence] if row.mentioned and ref.sentence < len(row.origins) else "model"
        if origin in ("user", "edited") and role == Qt.ItemDataRole.ForegroundRole:
            return QtGui.QBrush(QtGui.QColor(USER_COLOUR if origin == "user" else EDITED_COLOUR))
        if not row.mentioned:
            if role == Qt.ItemDataRole.FontRole:
                font = QtGui.QFont()
                font.setItalic(True)
                return font
            if role == Qt.ItemDataRole.ForegroundRole:
                return QtGui.QBrush(QtGui.QColor(130, 130, 130))
        return None
