"""Small helpers shared by the GUI tests (real widgets under pytest-qt)."""

from __future__ import annotations

from PySide6 import QtWidgets


def activate(qtbot, window, timeout: int = 3000) -> None:
    """Make ``window`` the active window, as the reader has it (shortcuts need it), and wait for it."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=timeout)


def until_signal(qtbot, signal, start, timeout: int = 60_000) -> list:
    """Call ``start()`` and wait for ``signal``; returns its arguments (a failure when it never comes)."""
    with qtbot.waitSignal(signal, timeout=timeout) as blocker:
        start()
    return blocker.args
