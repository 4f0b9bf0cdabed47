"""Report > Show changes: the edited report against the model's draft, kept up to date.

A summary line, then per changed structure the sentences changed (old struck through, new),
added and removed, the sentences moved between structures, the edited keywords, and the whole
report as a unified diff (one sentence a line). Built from :meth:`ReportDocument.diff`.
"""

from __future__ import annotations

import html

from PySide6 import QtGui, QtWidgets

ADDED, REMOVED = "#1b5e20", "#b71c1c"


def diff_html(diff) -> str:
    """The diff as Qt rich text."""
    e = html.escape
    changed = sum(len(s.changed) for s in diff.structures)
    added = sum(len(s.added) for s in diff.structures)
    removed = sum(len(s.removed) for s in diff.structures)
    if not diff.is_changed:
        return "<p><b>No changes</b>: the report is the model's draft.</p>"
    parts = [f"<p><b>{changed} changed, {added} added, {removed} removed, {len(diff.moved)} moved"
             f"{f'; keywords of {len(diff.keywords)} structure(s) edited' if diff.keywords else ''}</b></p>"]
    for s in diff.structures:
        if not (s.changed or s.added or s.removed):
            continue
        parts.append(f"<h4>{e(s.name)}</h4><ul>")
        for old, new in s.changed:
            parts.append(f"<li><span style='color:{REMOVED}'><s>{e(old)}</s></span><br/>"
                         f"<span style='color:{ADDED}'>{e(new)}</span></li>")
        parts += [f"<li><span style='color:{ADDED}'>+ {e(t)}</span></li>" for t in s.added]
        parts += [f"<li><span style='color:{REMOVED}'>\u2212 {e(t)}</span></li>" for t in s.removed]
        parts.append("</ul>")
    if diff.moved:
        parts.append("<h4>Moved</h4><ul>")
        parts += [f"<li>{e(text)}: {e(a)} \u2192 {e(b)}</li>" for text, a, b in diff.moved]
        parts.append("</ul>")
    if diff.keywords:
        parts.append("<h4>Keywords</h4><ul>")
        for name, change in diff.keywords.items():
            bits = [f"<span style='color:{ADDED}'>+ \u201c{e(k)}\u201d</span>" for k in change["added"]]
            bits += [f"<span style='color:{REMOVED}'>\u2212 \u201c{e(k)}\u201d</span>" for k in change["removed"]]
            parts.append(f"<li>{e(name)}: {', '.join(bits)}</li>")
        parts.append("</ul>")
    if diff.unified:
        lines = []
        for line in diff.unified.splitlines():
            colour = ADDED if line.startswith("+") and not line.startswith("+++") else \
                REMOVED if line.startswith("-") and not line.startswith("---") else "#444444"
            lines.append(f"<span style='color:{colour}'>{e(line)}</span>")
        parts.append("<h4>Unified diff</h4><pre>" + "\n".join(lines) + "</pre>")
    return "\n".join(parts)


class DiffDialog(QtWidgets.QDialog):
    """Non-modal; follows ``document`` until closed (:meth:`detach`)."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.setWindowTitle("Changes against the model's draft")
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenLinks(False)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        copy = buttons.addButton("Copy diff", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(self.document.diff().unified))
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(620, 520)
        document.add_listener(self._changed)
        self.refresh()

    def refresh(self) -> None:
        self.browser.setHtml(diff_html(self.document.diff()))

    def text(self) -> str:
        """What the dialog shows, as plain text."""
        return self.browser.toPlainText()

    def _changed(self, document, change) -> None:
        self.refresh()

    def detach(self) -> None:
        self.document.remove_listener(self._changed)

    def closeEvent(self, event: QtGui.QCloseEvent):  # noqa: N802
        self.detach()
        super().closeEvent(event)

