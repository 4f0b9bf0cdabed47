"""Save / Discard / Cancel before unsaved work is replaced (closing the window, opening another
study, a new draft, another report or masks file).

:meth:`UnsavedPrompt.confirm` runs the step at once when nothing is unsaved. Otherwise it asks
with a window-modal, non-blocking message box (``box``) and runs the step after Save (the report
and masks are saved first; a failed or cancelled save cancels) or Discard (their autosave is
dropped too); Cancel keeps everything. ``CTRG_UNSAVED=save|discard|cancel`` answers without a box
(scripted runs, tests).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.reports.unsaved import UnsavedWork, unsaved_answer

Buttons = QtWidgets.QMessageBox.StandardButton


class UnsavedPrompt(QtCore.QObject):
    """Signals: ``asked(box)`` when a question opens, ``answered(str)`` (save, discard, cancel)."""

    asked = QtCore.Signal(object)
    answered = QtCore.Signal(str)

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.box: QtWidgets.QMessageBox | None = None

    def confirm(self, action: str, proceed, cancelled=None, report: bool = True, masks: bool = True,
                measurements: bool | None = None) -> bool:
        """Before ``action`` (e.g. "Opening another study closes them"): call ``proceed()`` once the
        unsaved work (``report`` edits, ``masks``, ``measurements``: by default when both others
        are asked about, i.e. the whole study's work) is saved or discarded; ``cancelled()`` when
        the reader keeps it. True when ``proceed`` ran before returning."""
        measurements = (report and masks) if measurements is None else measurements
        work = self.controller.unsaved(report=report, masks=masks, measurements=measurements)
        if not work.any:
            proceed()
            return True
        answer = unsaved_answer()
        if answer != "ask":
            return self._resolve(answer, work, proceed, cancelled)
        if self.box is not None:  # one question at a time
            self.box.raise_()
            if cancelled is not None:
                cancelled()
            return False
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Save your work?",
                                    f"{work.describe()}\n{action}.", Buttons.Save | Buttons.Discard | Buttons.Cancel,
                                    self.window)
        box.setInformativeText("Save them first?")
        box.setDefaultButton(Buttons.Save)
        box.setEscapeButton(Buttons.Cancel)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result, b=box: self._answered(b, work, proceed, cancelled))
        self.box = box
        box.open()
        self.asked.emit(box)
        return False

    def _answered(self, box, work: UnsavedWork, proceed, cancelled) -> None:
        clicked = box.standardButton(box.clickedButton()) if box.clickedButton() is not None else Buttons.Cancel
        if self.box is box:
            self.box = None
        answer = {Buttons.Save: "save", Buttons.Discard: "discard"}.get(clicked, "cancel")
        self._resolve(answer, work, proceed, cancelled)

    def _resolve(self, answer: str, work: UnsavedWork, proceed, cancelled) -> bool:
        controller = self.controller
        if answer == "save" and not controller.files.save_work(work):
            answer = "cancel"  # the save failed or its file dialog was cancelled: keep everything
        elif answer == "discard":
            controller.discard_work(work)
        self.answered.emit(answer)
        if answer == "cancel":
            self.window.status.message("Kept the unsaved work; nothing was closed or replaced")
            if cancelled is not None:
                cancelled()
            return False
        proceed()
        return True
