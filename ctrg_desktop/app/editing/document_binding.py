"""Keeps the Report dock in step with a :class:`~ctrg_desktop.reports.document.ReportDocument`.

The binding listens to the document (every edit, undo and redo) and pushes fresh
:class:`StructureRow` s to the report panel: in place when only texts changed (an inline edit,
its undo), else rebuilt with the selection kept by sentence id. Inline edits and drops in the
panel's model come back through ``on_edit`` / ``on_move`` to the editing controller.
"""

from __future__ import annotations

from ctrg_desktop.app.drafting.report_model import StructureRow


def rows_from_document(document) -> list[StructureRow]:
    """One row per structure: its sentences (with ids, origins and a tooltip note), or the
    structure set's default sentence when it has none."""
    rows = []
    for section in document.structures:
        origins, notes = [], []
        for s in section.sentences:
            if s.edited:
                origins.append("edited")
                notes.append(f"Edited. The model wrote: {s.draft_text}")
            elif s.origin == "user":
                origins.append("user")
                notes.append("Added by the reader.")
            else:
                origins.append("model")
                notes.append("")
        rows.append(StructureRow(
            index=section.index, name=section.name, colour=section.colour,
            sentences=[s.text for s in section.sentences],
            default_text="" if section.sentences else document.structure_set.default_sentence(section.index),
            ids=[s.id for s in section.sentences], origins=origins, notes=notes))
    return rows


class DocumentBinding:
    """Shows ``document`` in ``panel`` (a ReportPanel) until :meth:`detach`."""

    def __init__(self, panel, document, on_edit=None, on_move=None):
        self.panel = panel
        self.document = document
        model = panel.model
        model.editable = True
        model.on_edit, model.on_move = on_edit, on_move
        document.add_listener(self._changed)
        self.refresh()

    def refresh(self) -> None:
        self.panel.set_rows(rows_from_document(self.document))

    def _changed(self, document, change) -> None:
        self.refresh()

    def detach(self) -> None:
        """Stop following the document; the panel's model is read-only again."""
        self.document.remove_listener(self._changed)
        model = self.panel.model
        model.editable = False
        model.on_edit = model.on_move = None
