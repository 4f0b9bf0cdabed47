"""The training page: the run's process, live loss curves (pyqtgraph), log, ETA, pause / cancel / resume."""

from __future__ import annotations

import signal

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ctrg_desktop.app.wizard.process import CliProcess
from ctrg_desktop.training import run_log, runs

PALETTE = ("#1976d2", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41")
POLL_MS = 400
STOP_GRACE_MS = 20_000


class RunPage(QtWidgets.QWizardPage):
    """Runs ``ctrg train`` for the wizard's run (``--resume`` when continuing one) and follows its
    JSONL log; complete when the run has finished. Also follows a run still training in a
    process of an earlier session of the app (pause and cancel reach it by its pid)."""

    def __init__(self, wizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Training")
        self.setCommitPage(True)  # no way back to a run that has been trained
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "Evaluate >")
        self.header = QtWidgets.QLabel(wordWrap=True)
        self.header.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QtWidgets.QProgressBar(maximum=1000, textVisible=False)
        self.status = QtWidgets.QLabel()
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend(offset=(-10, 10))
        self.log = QtWidgets.QPlainTextEdit(readOnly=True, maximumBlockCount=5000)
        self.log.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setEnabled(hasattr(signal, "SIGSTOP"))
        self.pause_button.setToolTip("" if hasattr(signal, "SIGSTOP") else "Pausing needs a POSIX system")
        self.cancel_button = QtWidgets.QPushButton("Stop")
        self.cancel_button.setToolTip("Stop training with a checkpoint; Resume continues from it")
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.pause_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.log)
        splitter.setSizes([320, 160])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self.process: CliProcess | None = None
        self.attached_pid: int | None = None
        self.tail: run_log.LogTail | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.timer = QtCore.QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._kill_timer = QtCore.QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._kill)

    # -- state
    @property
    def state(self) -> runs.RunState | None:
        return self.wiz.run

    @property
    def active(self) -> bool:
        if self.process is not None and self.process.running:
            return True
        return self.attached_pid is not None and runs.pid_alive(self.attached_pid)

    def initializePage(self):  # noqa: N802
        state = self.state
        self.tail = run_log.LogTail(state.log_path)
        self._clear_curves()
        self.log.clear()
        self.header.setText(f"<b>{state.title}</b><br>{state.folder}")
        if state.console_path.is_file():
            self.log.setPlainText("\n".join(state.console_path.read_text(errors="replace").splitlines()[-400:]))
        runs.refresh(state)
        if state.status in runs.ACTIVE and runs.pid_alive(state.pid):
            self.attached_pid = state.pid  # still training from an earlier session of the app
            self.timer.start()
        elif state.status == "new" or (self.wiz.resume and state.status in runs.RESUMABLE):
            self.start(resume=state.status != "new")
        self.poll()
        self._update_buttons()

    def isComplete(self):  # noqa: N802
        return self.state is not None and self.state.status in ("finished", "registered") and not self.active

    # -- process control
    def start(self, resume: bool = False) -> None:
        state = self.state
        if self.active:
            return
        state.out_dir.mkdir(parents=True, exist_ok=True)
        self.process = CliProcess(self, console=state.console_path)
        self.process.line.connect(self.log.appendPlainText)
        self.process.finished.connect(self._finished)
        runs.mark_started(state, 0, resume)
        self.log.appendPlainText(f"$ {runs.shell_line(state.command)}")
        self.process.process.started.connect(self._record_pid)
        self.process.start(state.command)
        self._record_pid()
        self.attached_pid = None
        self.timer.start()
        self._update_buttons()
        self.completeChanged.emit()

    def _record_pid(self) -> None:
        if self.process is not None and self.process.pid():
            self.state.pid = self.process.pid()
            self.state.save()

    def _finished(self, code: int) -> None:
        self._kill_timer.stop()
        runs.settle(self.state, None if code == -1 else code)
        self.poll()
        self.timer.stop()
        self.log.appendPlainText(f"[{self.state.status}] {self.state.message}")
        self._update_buttons()
        self.completeChanged.emit()

    def toggle_pause(self) -> None:
        state = self.state
        if not self.active:
            return
        if state.status == "paused":
            runs.unpause(state)
        else:
            runs.pause(state)
        self._update_buttons()
        self.poll()

    def cancel(self) -> None:
        """SIGINT: the loop writes a checkpoint and exits (resumable); killed if it hangs."""
        if not self.active:
            return
        runs.request_stop(self.state, cancel=True)
        self.status.setText("Stopping (writing a checkpoint)...")
        self._kill_timer.start()
        self._update_buttons()

    def _kill(self) -> None:
        if self.active:
            runs.signal_run(self.state.pid, runs.KILL)

    def stop_for_quit(self) -> None:
        """The app quits: interrupt with a checkpoint, wait for it, record the run as interrupted."""
        if self.process is None or not self.process.running:
            return
        self.process.finished.disconnect(self._finished)
        runs.request_stop(self.state, cancel=False)
        if not self.process.wait(STOP_GRACE_MS):
            self.process.kill()
        code = self.process.process.exitCode()
        crashed = self.process.process.exitStatus() == QtCore.QProcess.ExitStatus.CrashExit
        runs.settle(self.state, None if crashed else code)
        self.timer.stop()

    # -- display
    def _clear_curves(self) -> None:
        for item in self.curves.values():
            self.plot.removeItem(item)
        legend = self.plot.getPlotItem().legend
        if legend is not None:
            legend.clear()
        self.curves = {}

    def poll(self) -> None:
        state = self.state
        if state is None or self.tail is None:
            return
        new, reset = self.tail.poll()
        if reset:
            self._clear_curves()
        if new or reset:
            for index, (name, (steps, values)) in enumerate(sorted(run_log.curves(self.tail.records).items())):
                item = self.curves.get(name)
                if item is None:
                    pen = pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=2 if name == "loss" else 1)
                    item = self.plot.plot([], [], pen=pen, name=name, symbol="o" if name == "eval_loss" else None)
                    self.curves[name] = item
                item.setData(steps, values)
        if self.attached_pid is not None and not runs.pid_alive(self.attached_pid):
            self.attached_pid = None
            runs.refresh(state)
            self.timer.stop()
            self._update_buttons()
            self.completeChanged.emit()
        config_batch = None
        try:
            config_batch = state.config().batch_size * state.nproc
        except (OSError, ValueError):
            pass
        p = run_log.progress(self.tail.records, state.steps, state.s_per_step, config_batch)
        self.bar.setValue(int(1000 * p.fraction))
        parts = [f"{state.status}: step {p.step}/{p.total}"]
        parts += [f"loss {p.loss:.4f}"] if p.loss is not None else []
        parts += [f"{p.s_per_step:.2f} s/step"] if p.s_per_step else []
        if state.status in runs.ACTIVE:
            parts.append(f"ETA {run_log.format_seconds(p.eta_s)}")
        elif state.message:
            parts.append(state.message)
        self.status.setText(", ".join(parts))

    def _update_buttons(self) -> None:
        state, active = self.state, self.active
        self.pause_button.setEnabled(active and hasattr(signal, "SIGSTOP"))
        self.pause_button.setText("Continue" if state is not None and state.status == "paused" else "Pause")
        self.cancel_button.setEnabled(active)
        self.resume_button.setEnabled(not active and state is not None and state.status in runs.RESUMABLE)
