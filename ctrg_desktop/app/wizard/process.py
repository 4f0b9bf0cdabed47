"""Child processes and background calls for the training wizard, without blocking the GUI.

:class:`CliProcess` runs one ``ctrg`` command (QProcess, stdout and stderr merged, its own
session on POSIX so pause/cancel reach torchrun's workers too) and reports lines and the exit
code; :func:`call_in_thread` runs a function on the thread pool and hands its result back on
the GUI thread.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.training import runs


class CliProcess(QtCore.QObject):
    """One command; ``line(str)`` per output line, ``finished(int)`` with the exit code
    (-1 when it could not start or crashed, e.g. killed by a signal)."""

    line = QtCore.Signal(str)
    finished = QtCore.Signal(int)

    def __init__(self, parent=None, console: Path | None = None):
        super().__init__(parent)
        self.console = console
        self.started_at = 0.0
        self.wall_s = 0.0
        self.output: list[str] = []
        self._partial = ""
        self.process = QtCore.QProcess(self)
        self.process.setProcessChannelMode(QtCore.QProcess.ProcessChannelMode.MergedChannels)
        env = QtCore.QProcessEnvironment()
        for key, value in runs.process_env().items():
            env.insert(key, value)
        self.process.setProcessEnvironment(env)
        if sys.platform != "win32":
            flags = (QtCore.QProcess.UnixProcessFlag.CreateNewSession
                     | QtCore.QProcess.UnixProcessFlag.ResetSignalHandlers)
            self.process.setUnixProcessParameters(flags)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)

    @property
    def running(self) -> bool:
        return self.process.state() != QtCore.QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        return int(self.process.processId())

    def start(self, command: list[str]) -> None:
        self.output, self._partial = [], ""
        self.started_at = time.perf_counter()
        self.process.start(command[0], command[1:])

    def _emit(self, text: str) -> None:
        self.output.append(text)
        if self.console is not None:
            with open(self.console, "a", encoding="utf-8") as f:
                f.write(text + "\n")
        self.line.emit(text)

    def _read(self) -> None:
        data = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        parts = (self._partial + data).replace("\r", "\n").split("\n")
        self._partial = parts.pop()
        for part in parts:
            if part.strip():
                self._emit(part)

    def _finished(self, code: int, status) -> None:
        self._read()
        if self._partial.strip():
            self._emit(self._partial)
        self._partial = ""
        self.wall_s = time.perf_counter() - self.started_at
        crashed = status == QtCore.QProcess.ExitStatus.CrashExit
        self.finished.emit(-1 if crashed else int(code))

    def _error(self, error) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self._emit(f"cannot start {self.process.program()}: {self.process.errorString()}")
            self.finished.emit(-1)

    def error_line(self) -> str:
        """The last ``ctrg: error:`` line (or the last line) of the output."""
        for text in reversed(self.output):
            if text.startswith("ctrg: error:"):
                return text
        return self.output[-1] if self.output else ""

    def wait(self, ms: int) -> bool:
        return self.process.waitForFinished(ms)

    def kill(self) -> None:
        if self.running:
            if sys.platform == "win32":
                self.process.kill()
            else:
                runs.signal_run(self.pid(), runs.KILL)
            self.process.waitForFinished(3000)


class _Bridge(QtCore.QObject):
    done = QtCore.Signal(object)  # (result, exception)


class _Task(QtCore.QRunnable):
    def __init__(self, fn, bridge: _Bridge):
        super().__init__()
        self.fn, self.bridge = fn, bridge

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # handed to the GUI thread, shown there
            result, error = None, exc
        self.bridge.done.emit((result, error))


_live: set = set()


def call_in_thread(fn, callback) -> None:
    """Run ``fn()`` off the GUI thread; then ``callback(result, exception)`` on the GUI thread."""
    bridge = _Bridge()
    _live.add(bridge)

    def deliver(outcome):
        _live.discard(bridge)
        bridge.deleteLater()
        callback(*outcome)

    bridge.done.connect(deliver, QtCore.Qt.ConnectionType.QueuedConnection)
    QtCore.QThreadPool.globalInstance().start(_Task(fn, bridge))
