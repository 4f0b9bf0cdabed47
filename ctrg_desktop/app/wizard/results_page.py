"""The last page: ``ctrg evaluate`` of the new and the starting model on the held-out split,
side by side, and "Register in zoo" (a model folder with its card), then "Use in the app"."""

from __future__ import annotations

import datetime
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.wizard.process import CliProcess
from ctrg_desktop.training import run_results, runs


class ResultsPage(QtWidgets.QWizardPage):
    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Evaluation and model zoo")
        self.status = QtWidgets.QLabel(wordWrap=True)
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.name = QtWidgets.QLineEdit()
        self.register_button = QtWidgets.QPushButton("Register in zoo")
        self.register_button.clicked.connect(self.register)
        self.use_button = QtWidgets.QPushButton("Use in the app", enabled=False)
        self.use_button.clicked.connect(lambda: self.wiz.use_model.emit(self.wiz.run.registered["name"]))
        self.register_status = QtWidgets.QLabel(wordWrap=True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Model name"))
        row.addWidget(self.name, 1)
        row.addWidget(self.register_button)
        row.addWidget(self.use_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.register_status)
        self.processes: dict[str, CliProcess] = {}
        self.registering: CliProcess | None = None  #: the ``ctrg register`` child while it runs

    @property
    def evaluating(self) -> bool:
        return any(p.running for p in self.processes.values())

    def initializePage(self):  # noqa: N802
        state = self.wiz.run
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M")
        self.name.setText(state.registered.get("name") or f"{Path(state.parent_model).name}-ft-{stamp}")
        self._registered_changed()
        if run_results.load_metrics(state) is not None:
            self.show_metrics()
        elif state.eval_split is None:
            self.status.setText("No held-out studies (test or valid split) in the data: evaluation skipped.")
        else:
            self.evaluate()

    def evaluate(self) -> None:
        """Both models at once, each in its own ``ctrg evaluate`` process."""
        state = self.wiz.run
        folder = state.path / runs.EVAL_DIR
        folder.mkdir(exist_ok=True)
        self.outputs = {"new": folder / "new.json", "parent": folder / "parent.json"}
        models = {"new": state.model_dir, "parent": state.parent_folder}
        self.processes = {}
        for which, model in models.items():
            process = CliProcess(self)
            process.finished.connect(lambda code, w=which: self._done(w, code))
            self.processes[which] = process
        self.status.setText(f"Evaluating the new model and the starting model {state.parent_model} on the "
                            f"{state.eval_split} split...")
        for which, process in self.processes.items():
            process.start(runs.evaluate_command(models[which], state.data_dir, state.eval_split,
                                                self.outputs[which], state.device))
        self._registered_changed()  # registering waits for the metrics that go on the card

    def _done(self, which: str, code: int) -> None:
        if code != 0:
            self.stop()
            self.status.setText(f"Evaluation of the {'new' if which == 'new' else 'starting'} model failed: "
                                f"{self.processes[which].error_line() or f'exit code {code}'}")
        elif not self.evaluating:
            state = self.wiz.run
            state.metrics = {k: str(v) for k, v in self.outputs.items()}
            state.save()
            self.show_metrics()
        self._registered_changed()

    def show_metrics(self) -> None:
        state = self.wiz.run
        new, parent = run_results.load_metrics(state)
        rows = run_results.compare_metrics(new, parent)
        n = new.get("meta", {}).get("n_studies")
        self.status.setText(f"Held-out split '{state.eval_split}' ({n} studies), same metrics as ctrg evaluate.")
        self.table.setHorizontalHeaderLabels(["Metric", f"{state.parent_model} (start)", "New model", "Change"])
        self.table.setRowCount(len(rows))
        for r, (name, a, b) in enumerate(rows):
            change = None if a is None or b is None else b - a
            texts = [name, _fmt(a), _fmt(b), "" if change is None else f"{change:+.3f}"]
            for c, text in enumerate(texts):
                item = QtWidgets.QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if c == 3 and change:
                    item.setForeground(QtGui.QColor("#2e7d32" if change > 0 else "#c62828"))
                self.table.setItem(r, c, item)

    def register(self) -> None:
        """Copy the model into the zoo with ``ctrg register`` in a child process (the zoo's writer
        imports torch, which stays out of the GUI process)."""
        state, name, zoo = self.wiz.run, self.name.text().strip(), self.wiz.zoo
        try:
            command = run_results.register_command(state, name, zoo=zoo)
        except runs.RunError as exc:
            self.register_status.setText(f"Cannot register: {exc}")
            return
        self.register_button.setEnabled(False)
        self.register_status.setText("Registering...")
        self.registering = CliProcess(self)
        self.registering.finished.connect(lambda code: self._registered(name, zoo, code))
        self.registering.start(command)

    def _registered(self, name: str, zoo, code: int) -> None:
        process, self.registering = self.registering, None
        if code != 0:
            self._registered_changed()
            self.register_status.setText(f"Cannot register: {process.error_line() or f'exit code {code}'}")
            return
        folder = run_results.mark_registered(self.wiz.run, name, zoo=zoo)
        self._registered_changed()
        self.wiz.model_registered.emit(name, str(folder))

    def _registered_changed(self) -> None:
        registered = self.wiz.run.registered
        self.use_button.setEnabled(bool(registered))
        self.register_button.setEnabled(not registered and not self.evaluating and self.registering is None)
        self.name.setEnabled(not registered)
        if registered:
            self.register_status.setText(f"Registered as {registered['name']} in {registered['folder']}")
        else:
            self.register_status.setText("")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.running:
                process.finished.disconnect()
                process.kill()

    def cleanupPage(self):  # noqa: N802
        self.stop()


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
