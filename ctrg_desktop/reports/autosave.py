"""Crash-safe autosave of report documents: one JSON file per study key.

Each save writes the whole working state (:meth:`ReportDocument.to_json`, undo history included)
to a temporary file in the store's folder, flushes and fsyncs it, renames it over
``<study_key>.json`` with ``os.replace`` (atomic on POSIX and Windows) and fsyncs the folder, so a
crash or power loss leaves either the previous complete state or the new one, never a torn file.
Leftover temporary files of a killed save are ignored and removed by :meth:`AutosaveStore.pending`.

The masks of a study are autosaved beside, as ``<study_key>.masks.npz``
(:mod:`ctrg_desktop.reports.mask_file`, the same crash-safe write); they are kept and discarded
apart from the report (:meth:`AutosaveStore.masks_path`, :meth:`AutosaveStore.discard_masks`).

The default folder is ``platformdirs.user_state_dir("ctrg-desktop")/autosave`` (``CTRG_STATE_DIR``
overrides the state folder). Study keys name files, so they are restricted to letters, digits,
``.``, ``_`` and ``-``; :func:`study_key` derives a pseudonymous one from a volume.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ctrg_desktop.atomic import TMP_SUFFIX as _TMP_SUFFIX
from ctrg_desktop.atomic import atomic_write_bytes, fsync_directory
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.document import ReportDocument

FORMAT = "ctrg-autosave"
FORMAT_VERSION = 1
APP_NAME = "ctrg-desktop"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def default_autosave_dir() -> Path:
    """``CTRG_STATE_DIR/autosave`` when set, else the platform's user state folder + ``autosave``."""
    override = os.environ.get("CTRG_STATE_DIR")
    base = Path(override) if override else Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
    return base / "autosave"


def study_key(volume) -> str:
    """A stable, pseudonymous file-safe key for a study: 24 hex digits of a SHA-256 over its series
    and study UIDs, source path, shape and geometry (no identifier can be read back from it)."""
    meta, series = volume.meta, volume.series
    parts = [meta.study_instance_uid, meta.series_instance_uid, series.series_instance_uid, series.source_path,
             repr(volume.shape), repr(tuple(round(s, 6) for s in volume.spacing)),
             repr(tuple(round(o, 4) for o in volume.origin))]
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:24]


def _checksum(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingSession:
    """An autosaved working state not yet discarded (the GUI offers to restore it)."""

    study_key: str
    path: Path
    saved: str          #: ISO time of the save
    revision: int       #: the document's revision when saved
    label: str          #: what the GUI passed to :meth:`AutosaveStore.save` (e.g. a display name)
    modified: bool      #: the document had changes not marked clean (not exported/accepted)
    extra: dict


class AutosaveStore:
    """Autosaved report documents under ``root`` (module docstring)."""

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else default_autosave_dir()
        self._saved_revision: dict[str, int] = {}

    def path_for(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY.match(key):
            raise CtrgError(f"bad autosave study key {key!r}: use letters, digits, '.', '_' or '-' (at most 128)")
        return self.root / f"{key}.json"

    def masks_path(self, key: str) -> Path:
        """Where the masks of study ``key`` are autosaved."""
        from ctrg_desktop.reports.mask_file import SUFFIX

        return self.path_for(key).with_name(f"{key}{SUFFIX}")

    def masks_header(self, key: str) -> dict | None:
        """The header of ``key``'s autosaved masks (saved, masks, ...), or None (none, or damaged)."""
        from ctrg_desktop.reports.mask_file import read_header

        try:
            return read_header(self.masks_path(key))
        except (CtrgError, OSError):
            return None

    def discard_masks(self, key: str) -> bool:
        """Delete the autosaved masks of ``key``."""
        try:
            self.masks_path(key).unlink()
        except FileNotFoundError:
            return False
        fsync_directory(self.root)
        return True

    def save(self, key: str, document: ReportDocument, label: str = "", extra: dict | None = None) -> Path:
        """Write ``document``'s full state for ``key`` atomically; returns the file path.

        ``extra``: JSON-ready data the GUI needs to reopen the study (kept on this machine only).
        """
        path = self.path_for(key)
        state = document.to_json()
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "study_key": key, "label": str(label),
                   "saved": datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"),
                   "revision": document.revision, "modified": document.is_modified, "extra": extra or {},
                   "checksum": _checksum(state), "document": state}
        try:
            data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise CtrgError(f"cannot autosave: the state is not JSON data ({exc})") from exc
        atomic_write_bytes(path, data)
        self._saved_revision[key] = document.revision
        return path

    def save_if_changed(self, key: str, document: ReportDocument, label: str = "", extra: dict | None = None) -> bool:
        """Save only when the document's revision differs from the last one this store saved for ``key``."""
        if self._saved_revision.get(key) == document.revision and self.path_for(key).is_file():
            return False
        self.save(key, document, label, extra)
        return True

    def load(self, key: str) -> dict | None:
        """The saved payload for ``key`` (format, saved, revision, label, extra, document), or None.

        ``CtrgError`` when the file exists but is not a valid autosave (wrong format or checksum).
        """
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CtrgError(f"cannot read the autosave {path}: {exc}") from exc
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CtrgError(f"the autosave {path.name} is damaged: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CtrgError(f"{path.name} is not a ctrg autosave")
        if int(payload.get("format_version", 0)) > FORMAT_VERSION:
            raise CtrgError(f"the autosave {path.name} was written by a newer ctrg-desktop")
        if payload.get("checksum") != _checksum(payload.get("document")):
            raise CtrgError(f"the autosave {path.name} is damaged: its checksum does not match")
        return payload

    def recover(self, key: str) -> ReportDocument | None:
        """The saved document for ``key`` (history included), or None when nothing is saved."""
        payload = self.load(key)
        if payload is None:
            return None
        document = ReportDocument.from_json(payload["document"])
        self._saved_revision[key] = document.revision
        return document

    def pending(self) -> list[PendingSession]:
        """Every saved session, newest first; damaged files are skipped, stale temp files removed."""
        if not self.root.is_dir():
            return []
        self.remove_temp_files()
        out = []
        for path in self.root.glob("*.json"):
            key = path.stem
            if not _KEY.match(key):
                continue
            try:
                payload = self.load(key)
            except CtrgError:
                continue
            if payload is None:
                continue
            out.append(PendingSession(key, path, str(payload.get("saved", "")), int(payload.get("revision", 0)),
                                      str(payload.get("label", "")), bool(payload.get("modified", True)),
                                      dict(payload.get("extra") or {})))
        return sorted(out, key=lambda p: p.saved, reverse=True)

    def discard(self, key: str) -> bool:
        """Delete the saved state of ``key`` (after export/accept, or when the user declines recovery)."""
        path = self.path_for(key)
        self._saved_revision.pop(key, None)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_directory(self.root)
        return True

    def remove_temp_files(self, older_than_s: float = 60.0) -> int:
        """Delete temp files left by killed saves (only those older than ``older_than_s``: a save in
        another process may be writing a fresh one). Returns how many were removed."""
        import time

        removed = 0
        now = time.time()
        for tmp in self.root.glob(f".*{_TMP_SUFFIX}"):
            try:
                if now - tmp.stat().st_mtime >= older_than_s:
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
        return removed
