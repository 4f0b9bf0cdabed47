"""One versioned file of named numpy arrays + a JSON header (``.npz``, no pickle), written atomically.

The header is stored as the UTF-8 bytes of a JSON object in the array ``__header__`` and names
the file's ``format`` and ``version``. A reader gets :class:`ArraysFileError` (a ``CtrgError``)
for a missing, torn or foreign file instead of a zip/numpy exception.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ctrg_desktop.atomic import atomic_write_bytes
from ctrg_desktop.errors import CtrgError

HEADER_KEY = "__header__"


class ArraysFileError(CtrgError):
    """A file of arrays that cannot be read (missing, torn, another format or version)."""


def save_arrays(path, header: dict, arrays: dict, mode: int | None = 0o644) -> Path:
    """Write ``arrays`` (name -> ndarray, no object arrays) and ``header`` to ``path`` atomically (zip-compressed)."""
    if HEADER_KEY in arrays:
        raise ValueError(f"{HEADER_KEY!r} is reserved for the header")
    buffer = io.BytesIO()
    encoded = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    np.savez_compressed(buffer, **{HEADER_KEY: encoded}, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buffer.getvalue(), mode=mode)


def load_arrays(path, fmt: str, versions=(1,)) -> tuple[dict, dict]:
    """(header, arrays) of a file written by :func:`save_arrays` with ``header["format"] == fmt``."""
    path = Path(path)
    if not path.is_file():
        raise ArraysFileError(f"{path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as exc:
        raise ArraysFileError(f"{path} is torn or not a {fmt} file ({type(exc).__name__}: {exc})") from None
    raw = arrays.pop(HEADER_KEY, None)
    try:
        header = json.loads(bytes(raw).decode("utf-8")) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise ArraysFileError(f"{path} is not a {fmt} file")
    if header.get("version") not in versions:
        raise ArraysFileError(f"{path} is {fmt} version {header.get('version')}; this ctrg reads version(s) "
                              f"{', '.join(map(str, versions))}")
    return header, arrays
