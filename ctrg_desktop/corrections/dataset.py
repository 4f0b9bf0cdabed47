"""Accepted reports become training data: a de-identified dataset in the CT-RATE layout.

``CorrectionsDataset(root).accept(document, volume)`` adds one record; the folder is read by
:class:`ctrg_desktop.data.ctrate.CTRateDataset` unchanged (and so by ``ctrg train`` / ``ctrg evaluate``)::

    ROOT/dataset.json                                     format, split rule, label legend, counts (derived)
    ROOT/splits.csv                                       VolumeName, split (derived)
    ROOT/radiology_text_reports/{train,validation,test}_reports.csv   (derived)
    ROOT/multi_abnormality_labels/{train,valid,test}_predicted_labels.csv   (derived, rule-based labeller)
    ROOT/segmentations/{name}_labels.nii.gz               (derived: links to the records' label maps)
    ROOT/{split}/{split}_{pid}/{split}_{pid}_{scan}/      ONE RECORD, written once, never changed
                                                          (:mod:`ctrg_desktop.corrections.record`)
    ROOT/.salt   ROOT/.lock   ROOT/.incoming/              private: keep .salt out of shared copies

``name`` is ``{split}_{pid}_{scan}_1``. ``pid`` is a pseudonym of the patient (HMAC with the
dataset's random salt, :mod:`ctrg_desktop.corrections.pseudonyms`); ``scan`` is the same kind of
pseudonym of the study (8 hex digits) + ``r`` + how many times that study was accepted. No
identifier, path or date of the study is written anywhere (checked by
:func:`ctrg_desktop.corrections.phi.find_phi` before a record is committed; a report that mentions
one is refused).

**Split rule** (deterministic, per patient, so a patient never straddles splits): see
:func:`~ctrg_desktop.corrections.pseudonyms.split_of`, with fractions (0.8, 0.1, 0.1) by default
(stored in dataset.json at creation).

**Atomicity.** An accept runs under an inter-process lock: stale ``.incoming`` folders of crashed
accepts are removed, the record is built in ``.incoming/<random>``, fsynced, then renamed into place
in one ``rename``; the derived files are then rewritten from all record folders, each atomically
(temp file, fsync, ``os.replace``; :mod:`ctrg_desktop.corrections.index`). A crash at any point
leaves every earlier record and every index file complete; an index that lags behind the records
is rebuilt on the next open or accept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

from ctrg_desktop.atomic import fsync_directory
from ctrg_desktop.corrections.index import FORMAT, read_info, rebuild_index
from ctrg_desktop.corrections.lock import FileLock
from ctrg_desktop.corrections.phi import find_phi
from ctrg_desktop.corrections.pseudonyms import (DEFAULT_FRACTIONS, check_fractions, identities, load_salt,
                                                 pseudonym, split_of)
from ctrg_desktop.corrections.record import (RECORD_FILE, build_record, check_masks, fsync_tree, keyword_set,
                                             model_identity)
from ctrg_desktop.data.ctrate import SHARED_MODE, SPLITS, volume_relpath
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume

__all__ = ["DEFAULT_FRACTIONS", "FORMAT", "CorrectionsDataset", "default_corrections_dir", "split_of"]


def default_corrections_dir() -> Path:
    """``user_data_dir()/corrections`` (``CTRG_DATA_DIR`` overrides the data folder)."""
    from ctrg_desktop.resources import user_data_dir

    return user_data_dir() / "corrections"


class CorrectionsDataset:
    """The user's corrections dataset under ``root`` (module docstring). Opening it creates the
    folder, the salt and empty index files when missing, and rebuilds a lagging index."""

    def __init__(self, root=None, split_fractions=None, lock_timeout: float = 60.0):
        self.root = Path(root) if root is not None else default_corrections_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock_timeout = lock_timeout
        with self._lock():
            info = read_info(self.root)
            fractions = split_fractions or info.get("split_fractions") or DEFAULT_FRACTIONS
            self.split_fractions = check_fractions(fractions)
            self._salt = load_salt(self.root / ".salt")
            if not info or info.get("split_fractions") != list(self.split_fractions) or self._index_stale(info):
                self._rebuild_locked()

    # ------------------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self.record_dirs())

    def record_dirs(self) -> list[Path]:
        """The folders of all complete records, sorted by name."""
        out = []
        for split in SPLITS:
            base = self.root / split
            if base.is_dir():
                out += [p.parent for p in base.glob(f"{split}_*/{split}_*/{RECORD_FILE}")]
        return sorted(out, key=lambda p: p.name)

    def record_ids(self) -> list[str]:
        return [self._name_of(d) for d in self.record_dirs()]

    def record_dir(self, record_id: str) -> Path:
        """The folder of record ``record_id`` (its volume name); ``CtrgError`` when absent."""
        m = re.match(r"^(train|valid|test)_([0-9a-f]+)_([0-9a-fr]+)_1$", str(record_id))
        if m:
            folder = self.root / volume_relpath(str(record_id)).parent
            if (folder / RECORD_FILE).is_file():
                return folder
        raise CtrgError(f"no corrections record {record_id!r} in {self.root}")

    def read_record(self, record_id: str) -> dict:
        """The record's JSON (see :meth:`accept`)."""
        path = self.record_dir(record_id) / RECORD_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CtrgError(f"cannot read {path}: {exc}") from exc

    def records(self) -> list[dict]:
        """Every readable record's JSON, oldest first."""
        out = []
        for folder in self.record_dirs():
            try:
                out.append(json.loads((folder / RECORD_FILE).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                continue
        return sorted(out, key=lambda r: (r.get("created", ""), r.get("record_id", "")))

    def pseudonym(self, kind: str, value: str, digits: int = 10) -> str:
        """HMAC-SHA256 of ``kind:value`` with the dataset's salt, as ``digits`` hex digits."""
        return pseudonym(self._salt, kind, value, digits)

    # ------------------------------------------------------------------------------ accepting

    def accept(self, document, volume: Volume, masks: dict | None = None, model_info=None, keywords=None,
               *, impressions: str = "", labels: bool = True) -> str:
        """Add the accepted ``document`` (a :class:`ReportDocument`) for ``volume`` as one record; returns its id.

        ``masks``: structure name (or index) -> boolean array of the volume's shape. ``model_info``:
        dict or ``ModelInfo`` (default ``document.model``; name, version, config_hash, structure_set and
        tokenizer are kept). ``keywords``: a StructureSet or {structure: [keywords]} (default: the
        document's edited keywords). ``impressions``: the Impressions_EN text. ``labels``: compute
        the 18 CT-RATE labels of the final text with the rule-based labeller. ``CtrgError`` when
        the input is unusable or the report mentions an identifier of the study.
        """
        if not isinstance(volume, Volume):
            raise CtrgError(f"accept needs the study as a Volume, got {type(volume).__name__}")
        findings = document.report_text().strip()
        if not findings:
            raise CtrgError("the report is empty: write at least one sentence before accepting it")
        keywords = keyword_set(document, keywords)
        mask_arrays = check_masks(document, volume, masks)
        info = model_identity(model_info if model_info is not None else document.model)
        with self._lock():
            self._clear_incoming()
            pid, study = identities(self._salt, volume)
            split = split_of(pid, self.split_fractions)
            scan = f"{study}r{self._next_revision(split, pid, study)}"
            name = f"{split}_{pid}_{scan}_1"
            final = self.root / volume_relpath(name).parent
            if final.exists():
                raise CtrgError(f"record folder {final.name} exists already")
            tmp = self.root / ".incoming" / uuid.uuid4().hex
            tmp.mkdir(parents=True)
            try:
                record = build_record(tmp, name, split, pid, study, document, volume, mask_arrays, info,
                                      keywords, findings, impressions, labels)
                fsync_tree(tmp)
                hits = find_phi(tmp, volume)
                if hits:
                    fields = sorted({h.field.split(" (")[0].replace("_", " ") for h in hits})
                    raise CtrgError(f"not accepted: the record would contain the study's {', '.join(fields)} "
                                    "(remove it from the report)")
                final.parent.mkdir(parents=True, exist_ok=True)
                fsync_directory(final.parent.parent)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            fsync_directory(final.parent)
            self._rebuild_locked()
        return record["record_id"]

    def rebuild_index(self) -> dict:
        """Rewrite every derived file from the record folders (under the lock); returns dataset.json's content."""
        with self._lock():
            return self._rebuild_locked()

    # ------------------------------------------------------------------------------ internals

    def _lock(self) -> FileLock:
        return FileLock(self.root / ".lock", timeout=self.lock_timeout)

    def _index_stale(self, info: dict) -> bool:
        return int(info.get("count", -1)) != len(self.record_dirs())

    def _next_revision(self, split: str, pid: str, study: str) -> int:
        folder = self.root / split / f"{split}_{pid}"
        taken = [int(m.group(1)) for p in (folder.iterdir() if folder.is_dir() else [])
                 if (m := re.fullmatch(rf"{split}_{pid}_{study}r(\d+)", p.name))]
        return max(taken, default=0) + 1

    def _clear_incoming(self) -> None:
        incoming = self.root / ".incoming"
        if incoming.is_dir():
            for leftover in incoming.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)

    @staticmethod
    def _name_of(folder: Path) -> str:
        return f"{folder.name}_1"

    def _rebuild_locked(self) -> dict:
        """Rewrite the derived files from the record folders (:func:`~ctrg_desktop.corrections.index.rebuild_index`)."""
        return rebuild_index(self.root, self.record_dirs(), self.split_fractions, SHARED_MODE)
