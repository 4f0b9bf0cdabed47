"""Crash-safe file writes shared by the core: same-folder temp file, flush, fsync, ``os.replace``,
then fsync of the folder, so a reader sees the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

TMP_SUFFIX = ".tmp"  #: temp files are ".<name>.<random>.tmp" beside the target


def fsync_directory(path) -> None:
    """Make a rename/creation in ``path`` durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path) -> None:
    """Flush a written file's data to the disk."""
    try:
        f = open(path, "rb+")
    except PermissionError:  # a read-only file: POSIX fsyncs through a read handle too
        f = open(path, "rb")
    with f:
        os.fsync(f.fileno())


def atomic_write_bytes(path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically: same-folder temp file, flush, fsync, os.replace, fsync folder.

    The file is private to the user (0600) unless ``mode`` (e.g. 0o644) is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path


def atomic_write_text(path, text: str, mode: int | None = None) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name; when the block
    ends it is fsynced and replaces ``path`` (then the folder is fsynced), on an error it is removed.

    The temporary name keeps the target's suffixes (``.nii.gz`` etc.) so writers that choose a
    format by file name still do; the file gets the permissions its writer gives it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem.split('.')[0]}.{os.getpid()}{TMP_SUFFIX}{''.join(path.suffixes)}")
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_directory(path.parent)
