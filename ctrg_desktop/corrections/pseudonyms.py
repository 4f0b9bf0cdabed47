"""Pseudonyms of the corrections dataset: the salt, patient and study pseudonyms, and the split rule.

``pid`` = the first 10 hex digits of HMAC-SHA256(salt, "patient:" + patient ID | name | birth date)
(a study without patient identifiers is its own patient); the study's pseudonym is the same with
8 hex digits of its study (or series) UID, or of its voxels when it has none. A patient's split:
``u = int(sha256("split:" + pid)[:8], 16) / 2**32``; ``train`` when ``u < f_train``, ``valid``
when ``u < f_train + f_valid``, else ``test`` (so a patient never straddles splits).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import numpy as np

from ctrg_desktop.atomic import atomic_write_text
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
SPLIT_RULE = ("per patient pseudonym pid: u = int(sha256('split:' + pid)[:8], 16) / 2**32; "
              "train if u < f_train, valid if u < f_train + f_valid, else test")


def split_of(pid: str, fractions=DEFAULT_FRACTIONS) -> str:
    """The split of patient pseudonym ``pid`` (module docstring: the split rule)."""
    u = int(hashlib.sha256(f"split:{pid}".encode()).hexdigest()[:8], 16) / 2 ** 32
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


def check_fractions(fractions) -> tuple[float, float, float]:
    """``fractions`` as three floats (train, valid, test) summing to 1; ``CtrgError`` otherwise."""
    try:
        f = tuple(float(x) for x in fractions)
    except (TypeError, ValueError):
        f = ()
    if len(f) != 3 or min(f) < 0 or abs(sum(f) - 1) > 1e-6:
        raise CtrgError(f"split fractions are three shares (train, valid, test) summing to 1, got {fractions}")
    return f


def load_salt(path: Path) -> bytes:
    """The dataset's salt from ``path`` (created, 0600, with 32 random bytes when missing)."""
    if not path.is_file():
        atomic_write_text(path, secrets.token_hex(32) + "\n")
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass
    text = path.read_text(encoding="ascii").strip()
    if not re.fullmatch(r"[0-9a-f]{32,}", text):
        raise CtrgError(f"{path} is damaged (not a hex salt); restore it from a backup")
    return bytes.fromhex(text)


def pseudonym(salt: bytes, kind: str, value: str, digits: int = 10) -> str:
    """HMAC-SHA256 of ``kind:value`` with ``salt``, as ``digits`` hex digits."""
    mac = hmac.new(salt, f"{kind}:{value}".encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:digits]


def identities(salt: bytes, volume: Volume) -> tuple[str, str]:
    """(patient pseudonym, study pseudonym) of a volume (module docstring)."""
    meta, series = volume.meta, volume.series
    study_id = meta.study_instance_uid or meta.series_instance_uid or series.series_instance_uid
    if not study_id:
        digest = hashlib.sha256()
        digest.update(repr((volume.shape, str(volume.array.dtype), volume.spacing, volume.origin)).encode())
        digest.update(np.ascontiguousarray(volume.array).tobytes())
        study_id = "content:" + digest.hexdigest()
    patient = "|".join([meta.patient_id, meta.patient_name, meta.birth_date])
    patient = patient if patient.strip("|") else "study:" + study_id
    return pseudonym(salt, "patient", patient, 10), pseudonym(salt, "study", study_id, 8)
