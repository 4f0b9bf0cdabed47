"""The export package's user error, and export targets written atomically under it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.errors import CtrgError


class ExportError(CtrgError):
    """An export cannot be made: bad input, an unwritable target, or a DICOM export of a non-DICOM study."""


@contextlib.contextmanager
def export_path(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`ctrg_desktop.atomic.atomic_path` for an export's target: a folder given as the
    target, or an ``OSError`` while writing, is an :class:`ExportError`."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name to export to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the folder {path.parent}: {exc.strerror or exc}") from exc
    try:
        with atomic_path(path) as tmp:
            yield tmp
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_export(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (``str``: as UTF-8) to the export target ``path``; returns the path."""
    with export_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return Path(path)
