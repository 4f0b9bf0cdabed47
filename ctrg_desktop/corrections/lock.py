"""An exclusive inter-process lock on a file (``flock`` on POSIX, ``msvcrt.locking`` on Windows).

The operating system drops the lock when its holder dies, so a crashed writer never leaves the
dataset locked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ctrg_desktop.errors import CtrgError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class FileLock:
    """``with FileLock(path, timeout=30):`` holds an exclusive lock on ``path`` (created if needed)."""

    def __init__(self, path, timeout: float = 60.0, poll: float = 0.05):
        self.path = Path(path)
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    def _try(self, fd: int) -> bool:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while not self._try(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise CtrgError(f"{self.path.parent} is busy (another ctrg process holds its lock); try again")
            time.sleep(self.poll)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            else:
                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
