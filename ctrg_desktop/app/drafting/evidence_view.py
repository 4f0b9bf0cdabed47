"""The drafting controller's evidence view: a draft on screen (report, structures), each ticked
structure's heat map and patches with a legend in each slice view, a sentence or structure chosen
(its patches bright, the others dimmed, every view at its best patch inside the study), a patch
clicked (its structure's sentences selected) or hovered (a tooltip with structure, rank and share).

A mixin of :class:`ctrg_desktop.app.drafting.controller.DraftingController` (its state lives there).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.drafting.observations import by_structure, observations_of
from ctrg_desktop.app.drafting.report_model import SentenceRef
from ctrg_desktop.overlays.evidence import EvidenceLayers
from ctrg_desktop.overlays.patch_lookup import geometry_of

Qt = QtCore.Qt
TOOLTIP_COLOURS = ("#fffbe6", "#111111")  #: hover tooltip background, text: legible over any image


def tooltip_palette() -> QtGui.QPalette:
    """Dark text on a light background for the patch tooltip (the views' own palette is dark)."""
    palette = QtGui.QPalette(QtWidgets.QToolTip.palette())
    for group in (QtGui.QPalette.ColorGroup.Active, QtGui.QPalette.ColorGroup.Inactive):
        palette.setColor(group, QtGui.QPalette.ColorRole.ToolTipBase, QtGui.QColor(TOOLTIP_COLOURS[0]))
        palette.setColor(group, QtGui.QPalette.ColorRole.ToolTipText, QtGui.QColor(TOOLTIP_COLOURS[1]))
    return palette


class EvidenceView:
    """Showing a draft and navigating its evidence (mixin: ``self.draft``, ``self.evidence``,
    ``self.focused``, ``self.report_panel``, ``self.structure_panel``, ``self.legends``)."""

    def show_draft(self, draft) -> None:
        """Put ``draft`` on screen for the open study: report, structures, no evidence ticked yet."""
        window = self.window
        self.clear()
        self.draft = draft
        self.evidence = EvidenceLayers(draft, window.layers, geometry_of(window.volume))
        model = draft.model.get("name", "?")
        seconds = draft.timings.get("total")
        header = f"<b>{model}</b> on {draft.device.upper()}" + (f", {seconds:.1f} s" if seconds else "") + \
            (f"<br>{draft.created}" if draft.created else "") + \
            "<br><i>Draft for review. Not for diagnostic use.</i>"
        self.report_panel.set_draft(draft, header)
        self.structure_panel.set_structures([(s.index, s.name, s.colour, len(s.sentences))
                                             for s in draft.structures], by_structure(observations_of(draft)))
        for title in ("Report", "Structures"):
            window.docks[title].show()
            window.docks[title].raise_()
        self.draft_shown.emit(draft)

    def clear(self) -> None:
        if self.evidence is not None:
            self.evidence.clear()
        self.evidence, self.draft, self.focused, self.draft_path = None, None, None, None
        self.report_panel.clear()
        self.structure_panel.set_structures([])
        self._evidence_changed()

    def set_structure_shown(self, index: int, on: bool) -> None:
        """Show or hide structure ``index``'s heat map and patches (the Structures boxes call this)."""
        if self.evidence is None:
            return
        self.evidence.set_shown(index, on)
        self.structure_panel.show_checked(index, on)
        if not on and self.focused == index:
            self.focused = None
            self.evidence.focus(None)
        if not on:  # its sentences are no longer highlighted
            panel = self.report_panel
            kept = [r for r in panel.selected_refs() if r.structure != index]
            panel._select([panel.model.index_of(r) for r in kept], QtCore.QModelIndex(), scroll=False)
        self._evidence_changed()

    def _evidence_changed(self) -> None:
        """The legends and the report's tinted sentences follow the shown structures."""
        shown = sorted(self.evidence.shown) if self.evidence is not None else []
        structures = self.draft.structures if self.draft is not None else []
        entries = [(structures[i].name, structures[i].colour, self.focused in (None, i)) for i in shown]
        for legend in self.legends.values():
            legend.set(entries)
        self.report_panel.model.set_highlighted(shown)

    def focus_structure(self, index: int) -> None:
        """Show structure ``index`` (ticked), bright; the other shown structures are dimmed."""
        if self.evidence is None:
            return
        self.evidence.focus(index)
        self.focused = index
        self.structure_panel.show_checked(index, True)
        self.structure_panel.highlight(index)
        self._evidence_changed()

    def best_patch(self, index: int) -> dict | None:
        """Structure ``index``'s highest-scoring top patch whose centre lies in the study (``None``
        when all of them lie in the padding around it)."""
        shape = self.window.volume.shape if self.window.volume is not None else None
        for p in sorted(self.draft.structures[index].top_patches, key=lambda p: -p["score"]):
            centre = np.round(np.asarray(p["centre_voxel"], float))
            if p.get("inside_study", True) and (shape is None or all(0 <= c < n for c, n in zip(centre, shape))):
                return p
        return None

    def choose_sentence(self, ref: SentenceRef, scroll: bool = True) -> None:
        """Focus the sentence's structure and move every view to its best patch (``scroll``: bring
        the sentence into view in the report; not when the user clicked it there)."""
        if self.draft is None:
            return
        self.focus_structure(ref.structure)
        self.report_panel.select_sentence(ref, scroll)
        self.go_to_patch(ref.structure)
        self._slices_first()

    def choose_structure(self, index: int, scroll: bool = True) -> None:
        """A structure heading chosen: like a sentence, with all its sentences selected."""
        if self.draft is None:
            return
        self.focus_structure(index)
        self.report_panel.select_structure(index, scroll)
        self.go_to_patch(index)
        self._slices_first()

    def _slices_first(self) -> None:
        """Draw the slice views now (tens of ms); the 3D view, much slower on a software
        OpenGL, follows in its own event-loop pass."""
        for view in self.window.slice_views.values():
            view.render_now()

    def go_to_patch(self, index: int, patch: dict | None = None) -> None:
        """Move the views to ``patch`` (default: the best inside the study), clamped to the study."""
        patch = patch or self.best_patch(index)
        s = self.draft.structures[index]
        if patch is None:
            self.window.status.message(f"{s.name}: no attended patch lies inside the study (the views stay)")
            return
        self.window.state.set_cursor(np.round(np.asarray(patch["centre_voxel"], float)))  # clamped
        self.window.status.message(f"{self.evidence.describe(index, patch)}, at voxel "
                                   f"{', '.join(str(v) for v in self.window.state.cursor)}")

    def show_structure(self, name: str | None = None) -> int:
        """Focus structure ``name`` (default: the first one the draft mentions), select its first
        sentence and move the views there; returns its index. ``KeyError`` for an unknown name."""
        if self.draft is None:
            raise RuntimeError("no draft is shown")
        if name is None:
            mentioned = [s.index for s in self.draft.structures if s.mentioned]
            index = mentioned[0] if mentioned else 0
        else:
            index = self.draft.structure(name).index
        self.choose_sentence(SentenceRef(index, 0))
        return index

    def _patches_under(self, view, kji) -> list:
        if self.evidence is None or not self.evidence.shown:
            return []
        kji = list(kji)
        kji[view.axis] = view.slice_index
        return self.evidence.patches_at(kji)

    def _hover(self, view, kji) -> None:
        hits = self._patches_under(view, kji)
        if not hits:
            self.hover_text = ""
            if self._tooltip_shown:
                QtWidgets.QToolTip.hideText()
                self._tooltip_shown = False
            return
        self.hover_text = "\n".join(self.evidence.describe(i, p) for i, p in hits)
        rows = "".join(f"<tr><td style='color:{self.draft.structures[i].colour}'>&#9632;</td>"
                       f"<td><nobr>{html.escape(self.evidence.describe(i, p))}</nobr></td></tr>" for i, p in hits)
        QtWidgets.QToolTip.setPalette(tooltip_palette())
        QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), f"<table>{rows}</table>", view)
        self._tooltip_shown = True

    def patch_clicked(self, view, kji) -> int | None:
        """A click at voxel ``kji`` of ``view``: select the sentences of the patch's structure."""
        hits = self._patches_under(view, kji)
        if not hits:
            return None
        index = hits[0][0]
        self.focus_structure(index)
        self.report_panel.select_structure(index)
        s = self.draft.structures[index]
        self.window.status.message(f"{s.name}: patch #{hits[0][1]['rank']}, {len(s.sentences)} sentence(s)")
        return index

    def eventFilter(self, obj, event):  # noqa: N802
        if (event.type() == QtCore.QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton
                and not event.modifiers() and self.evidence is not None and self.window.state.tool == "navigate"
                and self.window.state.volume is not None):
            p = event.position()
            world = obj.display_to_world(p.x(), p.y())
            self.patch_clicked(obj, np.round(self.window.state.volume.world_to_voxel(world)))
        return False  # the view still moves its crosshair
