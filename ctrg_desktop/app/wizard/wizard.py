"""The training wizard: corrections -> a fine-tuned model in the zoo, without leaving the app.

Pages: (resume unfinished runs) -> data -> what to train -> hyper-parameters -> device and time
estimate -> training (live curves, pause, cancel) -> evaluation and "Register in zoo". Non-modal:
the viewer stays usable while a run trains in its own process. Runs are folders of
:mod:`ctrg_desktop.training.runs`; a run stopped by closing the app is offered for resuming
the next time the wizard opens.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.training import run_data, runs

START, DATA, MODEL, HYPER, DEVICE, RUN, RESULTS = range(7)


class TrainingWizard(QtWidgets.QWizard):
    """``model_registered(name, folder)`` after "Register in zoo"; ``use_model(name)`` when the
    user asks the app to switch to the new model (connect it to the window's model switch)."""

    model_registered = QtCore.Signal(str, str)
    use_model = QtCore.Signal(str)

    def __init__(self, parent=None, runs_root=None, zoo=None, dry_run_steps: int = 3):
        super().__init__(parent)
        from ctrg_desktop.app.wizard.results_page import ResultsPage
        from ctrg_desktop.app.wizard.run_page import RunPage
        from ctrg_desktop.app.wizard.setup_pages import DataPage, DevicePage, HyperPage, ModelPage, StartPage

        self.setWindowTitle("Train from corrections")
        self.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        self.setModal(False)
        self.setWizardStyle(QtWidgets.QWizard.WizardStyle.ClassicStyle)
        self.setOption(QtWidgets.QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.CancelButton, "Close")  # training goes on
        self.resize(900, 680)
        self.runs_root = Path(runs_root) if runs_root is not None else runs.runs_root()
        self.zoo = Path(zoo) if zoo is not None else None
        self.dry_run_steps = dry_run_steps
        # shared choices, filled page by page
        self.summary: run_data.DatasetSummary | None = None
        self.data_dirs: list[Path] = []
        self.kind = "report"
        self.parent_model = ""
        self.hyper: runs.Hyperparameters | None = None
        self.run: runs.RunState | None = None
        self.resume = False
        self.pages = {START: StartPage(self), DATA: DataPage(self), MODEL: ModelPage(self),
                      HYPER: HyperPage(self), DEVICE: DevicePage(self), RUN: RunPage(self),
                      RESULTS: ResultsPage(self)}
        for page_id, page in self.pages.items():
            self.setPage(page_id, page)
        self.setStartId(START if runs.resumable_runs(self.runs_root) else DATA)
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def training(self) -> bool:
        """True while a training process of this wizard runs (or is paused)."""
        return self.pages[RUN].active

    @property
    def busy(self) -> bool:
        """Training or evaluating: closing the wizard hides it and the work goes on."""
        return self.training or self.pages[RESULTS].evaluating

    def set_run(self, state: runs.RunState | None, resume: bool = False) -> None:
        """Replace the current run (an unstarted one is deleted)."""
        if self.run is not None and state is not self.run and self.run.status == "new":
            runs.discard(self.run)
        self.run, self.resume = state, resume

    def shutdown(self) -> None:
        """The app quits: stop training with a checkpoint (resumable next time), drop unstarted runs."""
        self.pages[RUN].stop_for_quit()
        self.pages[DEVICE].stop()
        self.pages[RESULTS].stop()
        if self.run is not None and self.run.status == "new":
            runs.discard(self.run)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        """Closing the wizard hides it; a run in progress keeps training (reopen from the menu)."""
        if self.run is not None and self.run.status == "new" and not self.training:
            runs.discard(self.run)
            self.run = None
        super().done(result)


def open_training_wizard(window) -> TrainingWizard:
    """Show the window's wizard (the one still training, else a new one), non-modal.

    The hook: ``use_model(name)`` is connected to ``window.drafting.set_model`` (the Report
    menu's model) or ``window.use_model`` when the window has one, else a status-bar message
    names the model; ``model_registered`` also reaches the status bar.
    """
    wizard = getattr(window, "training_wizard", None)
    if wizard is None or not (wizard.isVisible() or wizard.busy):
        if wizard is not None:
            wizard.deleteLater()
        wizard = TrainingWizard(window)
        message = getattr(getattr(window, "status", None), "message", None)
        switch = getattr(getattr(window, "drafting", None), "set_model", None) or getattr(window, "use_model", None)
        if callable(switch):
            wizard.use_model.connect(switch)
        elif callable(message):
            wizard.use_model.connect(lambda name: message(f"Model {name} is in the zoo; choose it to draft reports"))
        if callable(message):
            wizard.model_registered.connect(lambda name, folder: message(f"Registered model {name} in {folder}"))
        window.training_wizard = wizard
    wizard.show()
    wizard.raise_()
    wizard.activateWindow()
    return wizard
