"""Whether a process id still names a running process (stale temp files and locks of dead writers)."""

from __future__ import annotations

import os


def pid_exists(pid: int) -> bool:
    """True when process ``pid`` exists (or may: another user's process, or a system without
    POSIX signals, where signal 0 cannot ask)."""
    if os.name != "posix":
        return True  # os.kill there terminates the process instead of asking
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
