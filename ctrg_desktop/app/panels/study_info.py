"""The Study panel: the opened study as a form (patient, study, series, geometry, format, source)
from :func:`ctrg_desktop.io.series_catalog.describe_study`; Copy JSON puts the study's summary
(``Volume.summary()``: no patient identifiers) on the clipboard. Patient details are PHI: shown
here, never logged."""

from __future__ import annotations

import json

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.io.series_catalog import SeriesEntry, describe_study

Qt = QtCore.Qt
EMPTY = "Open a study to see its patient, series and geometry."


class StudyPanel(QtWidgets.QWidget):
    """``show_study(volume, summary)`` fills the form; ``set_catalog(entries)`` adds what the
    series headers tell (series number, slice thickness, file size)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.volume = None
        self.summary: dict | None = None
        self.entry: SeriesEntry | None = None
        self.sections: list = []
        self.values: dict[tuple[str, str], QtWidgets.QLabel] = {}  #: (section, label) -> value label
        self.placeholder = QtWidgets.QLabel(EMPTY)
        self.placeholder.setWordWrap(True)
        self.form_host = QtWidgets.QWidget()
        self.form_layout = QtWidgets.QVBoxLayout(self.form_host)
        self.form_layout.addWidget(self.placeholder)
        self.form_layout.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form_host)
        self.copy_button = QtWidgets.QPushButton("Copy JSON")
        self.copy_button.setToolTip("Copy the study's summary as JSON (shape, spacing, orientation, HU "
                                    "range, format; no patient identifiers)")
        self.copy_button.clicked.connect(self.copy_json)
        self.copy_text_button = QtWidgets.QPushButton("Copy as text")
        self.copy_text_button.setToolTip("Copy the form as text (with the patient details shown)")
        self.copy_text_button.clicked.connect(self.copy_text)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.copy_text_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self._sync_buttons()

    # ------------------------------------------------------------------------------ filling
    def show_study(self, volume, summary: dict | None = None, entry: SeriesEntry | None = None) -> None:
        self.volume, self.summary = volume, summary if summary is not None else volume.summary()
        self.entry = entry if entry is not None and self._matches(entry) else None
        self._rebuild()

    def set_catalog(self, entries) -> None:
        """The browser listed the series: take the opened one's entry (when it is among them)."""
        if self.volume is None:
            return
        entry = next((e for e in entries or () if self._matches(e)), None)
        if entry is not None and entry != self.entry:
            self.entry = entry
            self._rebuild()

    def clear(self) -> None:
        self.volume = self.summary = self.entry = None
        self.sections = []
        self._rebuild()

    def _matches(self, entry: SeriesEntry) -> bool:
        series = self.volume.series
        same_path = not series.source_path or _same(entry.path, series.source_path)
        return same_path and (entry.series_instance_uid == series.series_instance_uid)

    def _rebuild(self) -> None:
        while self.form_layout.count():
            child = self.form_layout.takeAt(0)
            if child.widget() is not None:
                child.widget().deleteLater()
        self.values = {}
        self.placeholder = None
        if self.volume is None:
            self.placeholder = QtWidgets.QLabel(EMPTY)
            self.form_layout.addWidget(self.placeholder)
        else:
            self.sections = describe_study(self.volume, self.summary, self.entry)
            form_host = QtWidgets.QWidget()
            form = QtWidgets.QFormLayout(form_host)
            form.setContentsMargins(4, 0, 4, 0)
            form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for n, (title, rows) in enumerate(self.sections):
                self._section(form, title, rows, first=n == 0)
            self.form_layout.addWidget(form_host)
        self.form_layout.addStretch(1)
        self._sync_buttons()

    def _section(self, form: QtWidgets.QFormLayout, title: str, rows, first: bool) -> None:
        heading = QtWidgets.QLabel(title)
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        if not first:
            heading.setContentsMargins(0, 8, 0, 0)
        form.addRow(heading)
        if not rows:
            note = QtWidgets.QLabel("(not recorded in this file)")
            note.setEnabled(False)
            form.addRow("", note)
        for label, value in rows:
            field = QtWidgets.QLabel(value)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setTextFormat(Qt.TextFormat.PlainText)
            form.addRow(f"{label}:", field)
            self.values[(title, label)] = field

    def _sync_buttons(self) -> None:
        for button in (self.copy_button, self.copy_text_button):
            button.setEnabled(self.volume is not None)

    # ------------------------------------------------------------------------------ reading
    def value(self, section: str, label: str) -> str | None:
        """The text shown for ``label`` in ``section`` (None when not shown)."""
        field = self.values.get((section, label))
        return field.text() if field is not None else None

    def json_text(self) -> str:
        """The study's summary as indented JSON (what this panel showed before it was a form)."""
        return json.dumps(self.summary, indent=2) if self.summary is not None else ""

    def as_text(self) -> str:
        lines = []
        for title, rows in self.sections:
            lines.append(title)
            lines += [f"  {label}: {value}" for label, value in rows]
        return "\n".join(lines)

    def copy_json(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.json_text())

    def copy_text(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.as_text())


def _same(a: str, b: str) -> bool:
    from pathlib import Path

    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
