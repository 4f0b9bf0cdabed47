"""A stop request for a training run: SIGINT/SIGTERM set a flag that the loop checks between steps.

A signal that raised ``KeyboardInterrupt`` wherever it landed (inside ``np.load`` of the
preprocessing cache, in a data-loader call, in the optimizer) could surface as another error and
leave no checkpoint. :func:`handle_stop_signals` (``ctrg train`` runs training inside it) turns
the first SIGINT or SIGTERM into a flag; the loop finishes its step, writes a checkpoint and
raises :class:`TrainingStopped`; ``ctrg train`` exits with 128 + the signal number (130 for the
wizard's Stop), which ``ctrg_desktop.training.runs`` reads as a resumable stop. A second SIGINT
while the flag is set interrupts at once, as before.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

_requested = threading.Event()
_signal_number = [int(signal.SIGINT)]


class TrainingStopped(KeyboardInterrupt):
    """Training stopped on request after a step, its checkpoint written (``checkpoint``)."""

    def __init__(self, checkpoint: Path | None, signum: int = int(signal.SIGINT)):
        super().__init__(f"stopped: checkpoint {checkpoint} written; continue with --resume")
        self.checkpoint, self.signum = checkpoint, int(signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal number, what a shell reports for a process stopped by it (SIGINT: 130)."""
        return 128 + self.signum


def request(signum: int = int(signal.SIGINT)) -> None:
    """Ask the running training loop to stop after its current step."""
    _signal_number[0] = int(signum)
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    _requested.clear()


def signal_number() -> int:
    return _signal_number[0]


def agreed(device=None) -> bool:
    """Whether to stop now: this process's flag, or under DDP any rank's (all ranks stop together)."""
    from ctrg_desktop.training import distributed

    if not distributed.is_distributed():
        return requested()
    return distributed.all_reduce_mean(1.0 if requested() else 0.0, device=device or "cpu") > 0


def _handler(signum, frame) -> None:
    if requested() and signum == signal.SIGINT:  # asked twice: stop now
        raise KeyboardInterrupt
    request(signum)


@contextmanager
def handle_stop_signals():
    """Within the block SIGINT and SIGTERM request a stop instead of raising; the previous handlers
    are restored after it. A no-op outside the main thread (signals go to the main thread only)."""
    clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        clear()
