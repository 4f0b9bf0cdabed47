"""SHA-256 of a file, read in blocks (weights, checkpoints and downloads are large)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 22  #: bytes read at a time


def file_sha256(path) -> str:
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(Path(path), "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
