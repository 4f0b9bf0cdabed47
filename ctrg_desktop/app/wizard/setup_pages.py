"""The wizard's set-up pages: resume, data, what to train, hyper-parameters, device + estimate.

About 470 lines: five small pages that share the wizard's run state, kept together so that the
order of the questions reads in one file."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.wizard.process import CliProcess, call_in_thread
from ctrg_desktop.model.catalogue import zoo_entries
from ctrg_desktop.training import run_data, run_log, runs

ERROR_STYLE = "color: #c62828;"
GPU_PROBE = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
_GPUS: list = [None]  # GPUs PyTorch sees, probed once per app session


def _error_label() -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(wordWrap=True)
    label.setStyleSheet(ERROR_STYLE)
    return label


def _folder_row(edit: QtWidgets.QLineEdit, parent, title: str) -> QtWidgets.QHBoxLayout:
    row = QtWidgets.QHBoxLayout()
    row.addWidget(edit, 1)
    button = QtWidgets.QPushButton("Browse...")

    def browse():
        folder = QtWidgets.QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(browse)
    row.addWidget(button)
    return row


class StartPage(QtWidgets.QWizardPage):
    """Unfinished runs (app closed, process killed, cancelled, failed): resume one or start anew."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Unfinished training runs")
        self.setCommitPage(True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "Continue >")
        self.setSubTitle("A run stopped before its end. Resume it from its last checkpoint, or start a new run.")
        self.list = QtWidgets.QListWidget()
        self.new_button = QtWidgets.QRadioButton("Start a new run", checked=True)
        self.resume_button = QtWidgets.QRadioButton("Resume the selected run")
        self.list.currentRowChanged.connect(lambda row: row >= 0 and self.resume_button.setChecked(True))
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.resume_button)
        layout.addWidget(self.new_button)
        self.states: list[runs.RunState] = []

    def initializePage(self):  # noqa: N802
        self.states = runs.resumable_runs(self.wiz.runs_root)
        self.list.clear()
        for state in self.states:
            step = run_log.last_step(state.log_path)
            self.list.addItem(f"{state.title} - {state.status} at step {step}/{state.steps}"
                              + (f" ({state.message})" if state.message else ""))
        self.new_button.setChecked(True)

    def selected(self) -> runs.RunState | None:
        row = self.list.currentRow()
        return self.states[row] if self.resume_button.isChecked() and 0 <= row < len(self.states) else None

    def validatePage(self):  # noqa: N802
        state = self.selected()
        if self.resume_button.isChecked() and state is None:
            QtWidgets.QMessageBox.information(self, "Resume", "Choose a run in the list first.")
            return False
        if state is not None:
            self.wiz.set_run(state, resume=state.status not in runs.ACTIVE)
        return True

    def nextId(self):  # noqa: N802
        from ctrg_desktop.app.wizard.wizard import DATA, RUN

        return RUN if self.selected() is not None else DATA


class DataPage(QtWidgets.QWizardPage):
    """The corrections folder, optionally a CT-RATE layout folder; what they hold."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Training data")
        self.setSubTitle("Your corrected reports (saved by the app in the CT-RATE layout), optionally "
                         "with another CT-RATE layout folder such as phantoms or CT-RATE itself.")
        self.corrections = QtWidgets.QLineEdit(str(runs.corrections_dir()))
        self.extra_check = QtWidgets.QCheckBox("Also train on this CT-RATE layout folder:")
        self.extra = QtWidgets.QLineEdit(enabled=False)
        self.extra_check.toggled.connect(self.extra.setEnabled)
        self.overview = QtWidgets.QLabel(wordWrap=True)
        self.problem = _error_label()
        self.structures = self._table(("Structure", "Sentences"))
        self.labels = self._table(("Label", "Studies"))
        form = QtWidgets.QFormLayout()
        form.addRow("Corrections folder", _folder_row(self.corrections, self, "Corrections folder"))
        extra_row = _folder_row(self.extra, self, "CT-RATE layout folder")
        form.addRow(self.extra_check, extra_row)
        tables = QtWidgets.QHBoxLayout()
        tables.addWidget(self.structures)
        tables.addWidget(self.labels)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.overview)
        layout.addWidget(self.problem)
        layout.addLayout(tables, 1)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self.refresh)
        for signal in (self.corrections.textChanged, self.extra.textChanged, self.extra_check.toggled):
            signal.connect(lambda *_: self._timer.start())
        self._generation = 0
        self.busy = False

    @staticmethod
    def _table(headers) -> QtWidgets.QTableWidget:
        table = QtWidgets.QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(list(headers))
        table.verticalHeader().hide()
        table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        return table

    def folders(self) -> list[Path]:
        out = [Path(self.corrections.text().strip())] if self.corrections.text().strip() else []
        if self.extra_check.isChecked() and self.extra.text().strip():
            out.append(Path(self.extra.text().strip()))
        return out

    def initializePage(self):  # noqa: N802
        self.refresh()

    def refresh(self) -> None:
        """Summarise the folders off the GUI thread (a big CT-RATE folder takes seconds)."""
        self._generation += 1
        generation, folders = self._generation, self.folders()
        self.busy = True
        self.overview.setText("Reading the folders...")
        self.completeChanged.emit()
        call_in_thread(lambda: run_data.summarize_datasets(folders),
                       lambda summary, error: self._show(generation, folders, summary, error))

    def _show(self, generation, folders, summary, error) -> None:
        if generation != self._generation:
            return  # the folders changed meanwhile
        self.busy = False
        if error is not None:
            summary = run_data.DatasetSummary([str(f) for f in folders], problems=[f"cannot read the data: {error}"])
        self.wiz.summary, self.wiz.data_dirs = summary, [Path(p) for p in summary.usable]
        splits = ", ".join(f"{summary.splits.get(s, 0)} {s}" for s in ("train", "valid", "test"))
        self.overview.setText(f"{summary.records} studies ({splits}); labels from {summary.label_source or '-'}")
        self.problem.setText("\n".join(([summary.message()] if summary.message() else [])
                                       + [p for p in summary.problems if p != summary.message()][:5]))
        for table, counts in ((self.structures, summary.structures), (self.labels, summary.labels)):
            table.setRowCount(len(counts))
            for row, (name, count) in enumerate(counts.items()):
                table.setItem(row, 0, QtWidgets.QTableWidgetItem(name))
                item = QtWidgets.QTableWidgetItem(str(count))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, 1, item)
        self.completeChanged.emit()

    def isComplete(self):  # noqa: N802
        return not self.busy and self.wiz.summary is not None and self.wiz.summary.ok

    def nextId(self):  # noqa: N802
        from ctrg_desktop.app.wizard.wizard import MODEL

        return MODEL


class ModelPage(QtWidgets.QWizardPage):
    """What to train (structure stage, BERT report stage, LoRA on the LLM decoder) from which zoo model."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("What to train")
        self.kind_buttons: dict[str, QtWidgets.QRadioButton] = {}
        box = QtWidgets.QGroupBox("Stage")
        box_layout = QtWidgets.QVBoxLayout(box)
        for kind, (_, _, label) in runs.TRAIN_KINDS.items():
            button = QtWidgets.QRadioButton(label)
            button.toggled.connect(lambda on, k=kind: on and self._set_kind(k))
            self.kind_buttons[kind] = button
            box_layout.addWidget(button)
        self.models = QtWidgets.QComboBox()
        self.models.currentIndexChanged.connect(self._model_changed)
        self.about = QtWidgets.QLabel(wordWrap=True)
        self.problem = _error_label()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(box)
        form = QtWidgets.QFormLayout()
        form.addRow("Start from model", self.models)
        layout.addLayout(form)
        layout.addWidget(self.about)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self.entries = []

    def initializePage(self):  # noqa: N802
        for kind, why in runs.available_kinds().items():
            button = self.kind_buttons[kind]
            button.setEnabled(not why)
            button.setToolTip(f"Not available: {why}" if why else runs.template_path(kind).name)
        usable = [k for k, b in self.kind_buttons.items() if b.isEnabled()]
        chosen = self.wiz.kind if self.wiz.kind in usable else (usable[0] if usable else None)
        if chosen:
            self.kind_buttons[chosen].setChecked(True)
        self.entries = [e for e in zoo_entries() if e.usable]
        with QtCore.QSignalBlocker(self.models):
            self.models.clear()
            for entry in self.entries:
                self.models.addItem(f"{entry.name} ({entry.source})", entry.name)
            names = [e.name for e in self.entries]
            if self.wiz.parent_model in names:
                self.models.setCurrentIndex(names.index(self.wiz.parent_model))
        self._model_changed()
        self.problem.setText("" if self.entries else "The model zoo has no usable model to start from")

    def _set_kind(self, kind: str) -> None:
        self.wiz.kind = kind
        self.completeChanged.emit()

    def _model_changed(self, *_):
        index = self.models.currentIndex()
        entry = self.entries[index] if 0 <= index < len(self.entries) else None
        self.wiz.parent_model = entry.name if entry else ""
        if entry is not None:
            self.about.setText(f"<b>{entry.title or entry.name}</b><br>{entry.summary}<br>{entry.decoder.upper()} "
                               f"decoder, input {entry.input_shape} voxels at {entry.spacing} mm<br>{entry.folder}")
        self.completeChanged.emit()

    def isComplete(self):  # noqa: N802
        button = self.kind_buttons.get(self.wiz.kind)
        return bool(self.wiz.parent_model) and button is not None and button.isEnabled() and button.isChecked()


class HyperPage(QtWidgets.QWizardPage):
    """Presets (quick / standard / thorough) and the values; validated; writes the run's config."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Hyper-parameters")
        self.preset = QtWidgets.QComboBox()
        self.preset.addItems([*runs.PRESETS, "custom"])
        self.preset.textActivated.connect(self.apply_preset)
        self.steps = QtWidgets.QSpinBox(minimum=0, maximum=1_000_000)
        self.lr = QtWidgets.QLineEdit()
        self.batch = QtWidgets.QSpinBox(minimum=0, maximum=runs.MAX_BATCH * 4)
        self.warmup = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=0.99, singleStep=0.05, decimals=2)
        self.problem = _error_label()
        self.info = QtWidgets.QLabel(wordWrap=True)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size (per process)", self.batch)
        form.addRow("Warm-up fraction", self.warmup)
        form.addRow(self.problem)
        form.addRow(self.info)
        self._applying = False
        for signal in (self.steps.valueChanged, self.lr.textChanged, self.batch.valueChanged,
                       self.warmup.valueChanged):
            signal.connect(self._edited)

    def initializePage(self):  # noqa: N802
        self.apply_preset(self.preset.currentText() if self.preset.currentText() != "custom" else "quick")

    def apply_preset(self, name: str) -> None:
        if name == "custom":
            return
        h = runs.preset(name, self.wiz.kind)
        self._applying = True
        try:
            self.preset.setCurrentText(name)
            self.steps.setValue(h.steps)
            self.lr.setText(f"{h.lr:g}")
            self.batch.setValue(h.batch_size)
            self.warmup.setValue(h.warmup_fraction)
        finally:
            self._applying = False
        self._check()

    def values(self) -> runs.Hyperparameters:
        try:
            lr = float(self.lr.text())
        except ValueError:
            lr = float("nan")
        return runs.Hyperparameters(steps=self.steps.value(), lr=lr, batch_size=self.batch.value(),
                                    warmup_fraction=round(self.warmup.value(), 4))

    def problems(self) -> list[str]:
        summary = self.wiz.summary
        return runs.validate_hyperparameters(self.values(), summary.splits.get("train") if summary else None)

    def _edited(self, *_):
        if not self._applying:
            self.preset.setCurrentText("custom")
            self._check()

    def _check(self) -> None:
        problems = self.problems()
        self.problem.setText("\n".join(problems))
        train = self.wiz.summary.splits.get("train", 0) if self.wiz.summary else 0
        h = self.values()
        passes = f"{h.steps * h.batch_size / train:.1f}" if train else "?"
        self.info.setText("" if problems or not train else f"{h.steps} steps x {h.batch_size} studies = about "
                          f"{passes} passes over the {train} training studies")
        self.completeChanged.emit()

    def isComplete(self):  # noqa: N802
        return not self.problems()

    def validatePage(self):  # noqa: N802
        """Create the run folder with the derived config (a previous unstarted one is replaced)."""
        self.wiz.hyper = self.values()
        try:
            state = runs.create_run(self.wiz.kind, self.wiz.parent_model, self.wiz.data_dirs, self.wiz.hyper,
                                    root=self.wiz.runs_root)
        except runs.RunError as exc:
            self.problem.setText(str(exc))
            return False
        self.wiz.set_run(state)
        return True


class DevicePage(QtWidgets.QWizardPage):
    """CPU, one GPU or several (torchrun); a dry run of a few steps measures s/step and the ETA."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Device and time")
        self.setCommitPage(True)  # the run starts on the next page
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "Start training >")
        self.cpu = QtWidgets.QRadioButton("CPU", checked=True)
        self.gpu = QtWidgets.QRadioButton("One GPU")
        self.multi = QtWidgets.QRadioButton("Several GPUs (torchrun)")
        self.nproc = QtWidgets.QSpinBox(minimum=2, maximum=2)
        self.measure = QtWidgets.QPushButton("Measure speed (dry run)")
        self.measure.clicked.connect(self.start_dry_run)
        self.estimate_label = QtWidgets.QLabel("Not measured yet.", wordWrap=True)
        self.command = QtWidgets.QLabel(wordWrap=True)
        self.command.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem = _error_label()
        multi_row = QtWidgets.QHBoxLayout()
        multi_row.addWidget(self.multi)
        multi_row.addWidget(self.nproc)
        multi_row.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        for widget in (self.cpu, self.gpu):
            layout.addWidget(widget)
        layout.addLayout(multi_row)
        layout.addWidget(self.measure)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.command)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        for button in (self.cpu, self.gpu, self.multi):
            button.toggled.connect(lambda on: on and self._device_changed())
        self.nproc.valueChanged.connect(lambda *_: self.multi.isChecked() and self._device_changed())
        self.dry: CliProcess | None = None
        self.estimate: run_log.Estimate | None = None
        self._dry_log: Path | None = None
        self.gpus: int | None = _GPUS[0]
        self._probe: CliProcess | None = None

    def initializePage(self):  # noqa: N802
        self.estimate = None
        if self.gpus is None:
            self._probe_gpus()
        self._show_gpus()
        self._device_changed()

    def _probe_gpus(self) -> None:
        """Ask PyTorch in a child process (the GUI process stays free of torch)."""
        if self._probe is not None and self._probe.running:
            return
        self._probe = CliProcess(self)
        self._probe.finished.connect(self._probed)
        self.gpu.setToolTip("Looking for GPUs...")
        self._probe.start([sys.executable, "-c", GPU_PROBE])

    def _probed(self, code: int) -> None:
        try:
            self.gpus = int(self._probe.output[-1]) if code == 0 else 0
        except (IndexError, ValueError):
            self.gpus = 0
        _GPUS[0] = self.gpus
        self._show_gpus()

    def _show_gpus(self) -> None:
        gpus = self.gpus or 0
        self.gpu.setEnabled(gpus >= 1)
        self.gpu.setToolTip("Looking for GPUs..." if self.gpus is None else
                            "" if gpus else "PyTorch sees no CUDA GPU")
        self.multi.setVisible(gpus > 1)
        self.nproc.setVisible(gpus > 1)
        self.nproc.setMaximum(max(2, gpus))
        self.nproc.setValue(max(2, gpus))

    def device(self) -> tuple[str, int]:
        if self.multi.isChecked() and self.multi.isVisible():
            return "cuda", self.nproc.value()
        return ("cuda", 1) if self.gpu.isChecked() and self.gpu.isEnabled() else ("cpu", 1)

    def _device_changed(self) -> None:
        state = self.wiz.run
        if state is None or state.status != "new":
            return
        self.stop()
        device, nproc = self.device()
        try:
            runs.set_device(state, device, nproc)
        except runs.RunError as exc:
            self.problem.setText(str(exc))
            return
        self.estimate = None
        self.estimate_label.setText("Not measured yet.")
        self.command.setText("Command: " + runs.shell_line(runs.train_command(state)))
        self.problem.setText("")

    def start_dry_run(self) -> None:
        state = self.wiz.run
        if state is None or (self.dry is not None and self.dry.running):
            return
        cmd, self._dry_log = runs.dry_run_setup(state, self.wiz.dry_run_steps)
        self.dry = CliProcess(self)
        self.dry.finished.connect(self._dry_done)
        self.measure.setEnabled(False)
        self.estimate_label.setText(f"Running {self.wiz.dry_run_steps} steps...")
        self.dry.start(cmd)

    def _dry_done(self, code: int) -> None:
        self.measure.setEnabled(True)
        state = self.wiz.run
        if code != 0 or state is None:
            self.estimate_label.setText(f"The dry run failed: {self.dry.error_line() or f'exit code {code}'}")
            return
        try:
            self.estimate = run_log.estimate_from_log(run_log.read_log(self._dry_log), self.dry.wall_s)
        except ValueError as exc:
            self.estimate_label.setText(str(exc))
            return
        runs.finish_dry_run(state, self.estimate)
        self.estimate_label.setText(self.estimate.text(state.steps))

    def stop(self) -> None:
        if self.dry is not None and self.dry.running:
            self.dry.finished.disconnect(self._dry_done)
            self.dry.kill()
            self.measure.setEnabled(True)

    def validatePage(self):  # noqa: N802
        self.stop()
        return self.wiz.run is not None

    def cleanupPage(self):  # noqa: N802
        self.stop()
