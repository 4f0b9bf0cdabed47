"""A similar case's report against the current report, structure by structure (the Diff button).

Both reports are routed to the structures of the current report's structure set (the parser's
keywords; the current report as the reader edited it); sentences are matched by identical text
(:func:`~ctrg_desktop.reports.report_diff.diff_report`): only in the case (red), only in the
current report (green), in both (counted). Follows the report document while open, like
Report > Show changes (whose colours it uses).
"""

from __future__ import annotations

import html

from PySide6 import QtGui, QtWidgets

from ctrg_desktop.app.editing.diff_dialog import ADDED, REMOVED
from ctrg_desktop.reports.parser import parse_report
from ctrg_desktop.reports.report_diff import diff_report
from ctrg_desktop.reports.sentences import ORIGIN_USER, Sentence, StructureSection


def _sections(texts_by_structure: list[list[str]], structure_set, prefix: str) -> list[StructureSection]:
    return [StructureSection(i, s.name, s.colour, [Sentence(f"{prefix}{i}.{j}", t, ORIGIN_USER, None)
                                                   for j, t in enumerate(texts_by_structure[i])])
            for i, s in enumerate(structure_set.structures)]


def routed(text: str, structure_set) -> list[list[str]]:
    """The sentences of ``text`` per structure of ``structure_set`` (as the parser routes them)."""
    out: list[list[str]] = [[] for _ in structure_set.structures]
    for sentence in parse_report(text, structure_set).sentences:
        for i in sentence.structures:
            out[i].append(sentence.text)
    return out


def reference_diff(reference: str, current: list[list[str]], structure_set):
    """A :class:`~ctrg_desktop.reports.report_diff.ReportDiff` of the case's ``reference`` text (as
    the "draft") against the ``current`` sentences per structure: ``removed`` = only in the case,
    ``added`` = only in the current report."""
    case = _sections(routed(reference, structure_set), structure_set, "case")
    mine = _sections(current, structure_set, "current")
    return diff_report(mine, [s.sentences for s in case], {})


def reference_diff_html(name: str, diff) -> str:
    """The diff as Qt rich text, titled with the case's ``name``."""
    e = html.escape
    only_case = sum(len(s.removed) for s in diff.structures)
    only_mine = sum(len(s.added) for s in diff.structures)
    shared = sum(s.unchanged for s in diff.structures)
    parts = [f"<p><b>{e(name)}</b> against the current report: {shared} sentence(s) in both, "
             f"<span style='color:{REMOVED}'>{only_case} only in the case</span>, "
             f"<span style='color:{ADDED}'>{only_mine} only in the current report</span>.</p>"]
    for s in diff.structures:
        if not (s.added or s.removed):
            continue
        parts.append(f"<h4>{e(s.name)}</h4><ul>")
        parts += [f"<li><span style='color:{REMOVED}'>case: {e(t)}</span></li>" for t in s.removed]
        parts += [f"<li><span style='color:{ADDED}'>current: {e(t)}</span></li>" for t in s.added]
        parts.append("</ul>")
    if not (only_case or only_mine):
        parts.append("<p>The two reports say the same.</p>")
    return "\n".join(parts)


class ReferenceDiffDialog(QtWidgets.QDialog):
    """Non-modal. ``current()`` gives the current sentences per structure; ``document`` (optional)
    is followed while the dialog is open."""

    def __init__(self, neighbour, current, structure_set, document=None, parent=None):
        super().__init__(parent)
        self.neighbour, self.current, self.structure_set, self.document = neighbour, current, structure_set, document
        self.setWindowTitle(f"Similar case {neighbour.name} against the current report")
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenLinks(False)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(640, 520)
        if document is not None:
            document.add_listener(self._changed)
        self.finished.connect(lambda _=0: self.detach())
        self.refresh()

    def refresh(self) -> None:
        diff = reference_diff(self.neighbour.report, self.current(), self.structure_set)
        self.browser.setHtml(reference_diff_html(self.neighbour.name, diff))

    def text(self) -> str:
        """What the dialog shows, as plain text."""
        return self.browser.toPlainText()

    def _changed(self, document, change) -> None:
        self.refresh()

    def detach(self) -> None:
        if self.document is not None:
            self.document.remove_listener(self._changed)
            self.document = None

    def closeEvent(self, event: QtGui.QCloseEvent):  # noqa: N802
        self.detach()
        super().closeEvent(event)
