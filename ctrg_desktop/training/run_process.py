"""A run's training process: start it in its own session, and pause, resume or stop it (with its
workers) by signal."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from ctrg_desktop.training.run_commands import process_env, shell_line, train_command
from ctrg_desktop.training.run_folders import RunError
from ctrg_desktop.training.run_state import ACTIVE, RunState, now, pid_alive

KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def mark_started(state: RunState, pid: int, resume: bool) -> None:
    state.command = train_command(state, resume)
    state.status, state.pid, state.started, state.ended = "running", pid, now(), None
    state.returncode, state.message, state.cancel_requested = None, "", False
    with open(state.console_path, "a") as f:
        f.write(f"$ {shell_line(state.command)}\n")
    state.save()


def start(state: RunState, resume: bool = False) -> subprocess.Popen:
    """Start the training process in its own session (output to ``console.log``); the app uses
    QProcess with :func:`train_command` instead. Call :func:`settle` with its exit code."""
    if state.status in ACTIVE and pid_alive(state.pid):
        raise RunError(f"run {state.id} is already running (pid {state.pid})")
    state.out_dir.mkdir(parents=True, exist_ok=True)
    mark_started(state, 0, resume)
    with open(state.console_path, "ab") as console:
        proc = subprocess.Popen(state.command, stdout=console, stderr=subprocess.STDOUT, env=process_env(),
                                start_new_session=True)
    state.pid = proc.pid
    state.save()
    return proc


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (Linux /proc; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields_[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def signal_run(pid: int, sig: int) -> None:
    """Send ``sig`` to a training process and its workers (its process group when it leads one)."""
    if not pid:
        return
    try:
        if hasattr(os, "getpgid") and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        return
    for p in [pid, *_descendants(pid)]:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def pause(state: RunState) -> None:
    """Stop the process (SIGSTOP; POSIX only)."""
    if not hasattr(signal, "SIGSTOP"):
        raise RunError("pausing needs a POSIX system (SIGSTOP)")
    signal_run(state.pid, signal.SIGSTOP)
    state.status = "paused"
    state.save()


def unpause(state: RunState) -> None:
    signal_run(state.pid, signal.SIGCONT)
    state.status = "running"
    state.save()


def request_stop(state: RunState, cancel: bool = True) -> None:
    """Interrupt the process (SIGINT: the loop writes a checkpoint and exits, resumable later)."""
    state.cancel_requested = cancel
    state.save()
    signal_run(state.pid, signal.SIGINT)
    if hasattr(signal, "SIGCONT"):
        signal_run(state.pid, signal.SIGCONT)  # a paused process must run to handle SIGINT
