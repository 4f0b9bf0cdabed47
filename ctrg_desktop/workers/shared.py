"""A study's voxels to a worker process through shared memory: one copy, no pickling of the array.

The parent :func:`share` s an array (it owns the block and :func:`release` s it); the request
carries the :class:`SharedArray` reference; the child :meth:`SharedArray.read` s a private copy
or :meth:`SharedArray.attach` es a view it keeps (closing its block when done).
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np


@dataclass(frozen=True)
class SharedArray:
    """Where an array lies in shared memory: the block's name, its shape (e.g. (z, y, x)) and
    numpy dtype string (e.g. ``"<i2"``)."""

    shm_name: str
    shape: tuple[int, ...]
    dtype: str

    def attach(self) -> tuple[shared_memory.SharedMemory, np.ndarray]:
        """(the opened block, a view of the array on it): close the block after the view's last use."""
        block = shared_memory.SharedMemory(name=self.shm_name)
        return block, np.ndarray(self.shape, np.dtype(self.dtype), buffer=block.buf)

    def read(self) -> np.ndarray:
        """A private copy of the array (the block is closed again)."""
        block, view = self.attach()
        try:
            return view.copy()
        finally:
            del view
            block.close()


def share(array) -> tuple[shared_memory.SharedMemory, SharedArray]:
    """Copy ``array`` (any shape and dtype) into a new shared-memory block; returns the block (the
    caller :func:`release` s it) and the reference to send."""
    array = np.ascontiguousarray(array)
    block = shared_memory.SharedMemory(create=True, size=max(1, array.nbytes))
    np.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
    return block, SharedArray(block.name, tuple(array.shape), array.dtype.str)


def release(block: shared_memory.SharedMemory | None) -> None:
    """Close and unlink a block made by :func:`share` (a child may still map it: unlinking only
    drops the name)."""
    if block is not None:
        block.close()
        block.unlink()
