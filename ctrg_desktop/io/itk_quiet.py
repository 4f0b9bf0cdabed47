"""ITK's warning output, off while any caller needs it off.

ITK prints warnings (e.g. about NIfTI sform scales) to stderr, and the CLI promises one line. The switch is
process-wide, so one counter under a lock owns it: the first caller saves and turns it off, the last one
restores it. Two threads that each saved and restored it on their own (a study read beside a series
scan) could leave it off for good.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import SimpleITK as sitk

_lock = threading.Lock()
_depth = 0
_saved = True


@contextmanager
def itk_warnings_off() -> Iterator[None]:
    """ITK's global warning display off inside the block (nested and concurrent uses included)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = sitk.ProcessObject.GetGlobalWarningDisplay()
            sitk.ProcessObject.SetGlobalWarningDisplay(False)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                sitk.ProcessObject.SetGlobalWarningDisplay(_saved)
