"""Accepted reports become training data: a de-identified dataset in the CT-RATE layout.

``CorrectionsDataset(root).accept(document, volume)`` adds one record; the folder is read by
:class:`ctrg_desktop.data.ctrate.CTRateDataset` unchanged (and so by ``ctrg train`` / ``ctrg evaluate``)::

    ROOT/dataset.json                                     format, split rule, label legend, counts (derived)
    ROOT/splits.csv                                       VolumeName, split (derived)
    ROOT/radiology_text_reports/{train,validation,test}_reports.csv   (derived)
    ROOT/multi_abnormality_labels/{train,valid,test}_predicted_labels.csv   (derived, rule-based labeller)
    ROOT/segmentations/{name}_labels.nii.gz               (derived: links to the records' label maps)
    ROOT/{split}/{split}_{pid}/{split}_{pid}_{scan}/      ONE RECORD, written once, never changed:
        {name}.nii.gz          the volume in HU, written from the voxel array and geometry only
        record.json            final text per structure, the model's draft, the diff, the edited
                               keywords, labels, model name/version/config hash, timestamps, files
        masks/NN_<structure>.nii.gz   per-structure masks (uint8), when given
        {name}_labels.nii.gz   the masks as one label map (value = structure index + 1), when given
    ROOT/.salt   ROOT/.lock   ROOT/.incoming/              private: keep .salt out of shared copies

``name`` is ``{split}_{pid}_{scan}_1``. ``pid`` is a pseudonym of the patient: the first 10 hex
digits of HMAC-SHA256(salt, patient ID | name | birth date) with the dataset's random salt (a study
without patient identifiers is its own patient); ``scan`` is the same kind of pseudonym of the study
(8 hex digits) + ``r`` + how many times that study was accepted. No identifier, path or date of the
study is written anywhere (checked by :func:`ctrg_desktop.corrections.phi.find_phi` before a record is
committed; a report that mentions one is refused).

**Split rule** (deterministic, per patient, so a patient never straddles splits):
``u = int(sha256("split:" + pid)[:8], 16) / 2**32``; ``train`` when ``u < f_train``, ``valid`` when
``u < f_train + f_valid``, else ``test``, with fractions (0.8, 0.1, 0.1) by default (stored in
dataset.json at creation).

**Atomicity.** An accept runs under an inter-process lock: stale ``.incoming`` folders of crashed
accepts are removed, the record is built in ``.incoming/<random>``, fsynced, then renamed into place
in one ``rename``; the derived files are then rewritten from all record folders, each atomically
(temp file, fsync, ``os.replace``). A crash at any point leaves every earlier record and every
index file complete; an index that lags behind the records is rebuilt on the next open or accept.
"""

from __future__ import annotations

import copy
import csv
import datetime
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import uuid
from pathlib import Path

import numpy as np

from ctrg_desktop import __version__
from ctrg_desktop.corrections.lock import FileLock
from ctrg_desktop.corrections.phi import find_phi
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.atomic import atomic_write_bytes, atomic_write_text, fsync_directory, fsync_file
from ctrg_desktop.reports.structures import StructureSet

FORMAT = "ctrg-corrections"
RECORD_FORMAT = "ctrg-correction-record"
FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
REPORT_FILES = {"train": "train_reports.csv", "valid": "validation_reports.csv", "test": "test_reports.csv"}
LABEL_FILES = {s: f"{s}_predicted_labels.csv" for s in SPLITS}
REPORT_COLUMNS = ("VolumeName", "ClinicalInformation_EN", "Technique_EN", "Findings_EN", "Impressions_EN")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
RECORD_FILE = "record.json"
SHARED_MODE = 0o644  #: index files are readable like the records (the salt stays 0600)
MODEL_KEYS = ("name", "version", "config_hash", "structure_set", "tokenizer")


def default_corrections_dir() -> Path:
    """``user_data_dir()/corrections`` (``CTRG_DATA_DIR`` overrides the data folder)."""
    from ctrg_desktop.resources import user_data_dir

    return user_data_dir() / "corrections"


def split_of(pid: str, fractions=DEFAULT_FRACTIONS) -> str:
    """The split of patient pseudonym ``pid`` (module docstring: the split rule)."""
    u = int(hashlib.sha256(f"split:{pid}".encode()).hexdigest()[:8], 16) / 2 ** 32
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


def _check_fractions(fractions) -> tuple[float, float, float]:
    try:
        f = tuple(float(x) for x in fractions)
    except (TypeError, ValueError):
        f = ()
    if len(f) != 3 or min(f) < 0 or abs(sum(f) - 1) > 1e-6:
        raise CtrgError(f"split fractions are three shares (train, valid, test) summing to 1, got {fractions}")
    return f


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "structure"


def _json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _csv_text(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            fsync_file(path)
        else:
            fsync_directory(path)
    fsync_directory(folder)


def _geometry_only(volume: Volume) -> Volume:
    """A Volume with the voxels and geometry of ``volume`` and empty series/study metadata."""
    return Volume.on_grid(volume.array, volume.geometry)


def _model_info(info) -> dict:
    if info is None:
        return {}
    if hasattr(info, "to_dict"):
        info = info.to_dict()
    if not isinstance(info, dict):
        raise CtrgError(f"model_info is a dict (name, version, config_hash, ...), got {type(info).__name__}")
    return {k: str(info[k]) for k in MODEL_KEYS if info.get(k) not in (None, "")}


def _keyword_set(document, keywords) -> StructureSet:
    """The structure set whose keywords the record keeps (default: the document's edited copy)."""
    chosen = copy.deepcopy(document.structure_set)
    if keywords is None:
        return chosen
    if isinstance(keywords, StructureSet):
        if keywords.names != chosen.names:
            raise CtrgError("the keywords' structure set names other structures than the report")
        return copy.deepcopy(keywords)
    if not isinstance(keywords, dict):
        raise CtrgError("keywords are a StructureSet or a dict of structure name -> list of keywords")
    for name, words in keywords.items():
        if name not in chosen.names:
            raise CtrgError(f"keywords given for {name!r}, which is not a structure of the report")
        if isinstance(words, str) or not all(isinstance(w, str) and w.strip() for w in words):
            raise CtrgError(f"the keywords of {name!r} must be a list of non-empty strings")
        chosen.structures[chosen.names.index(name)].keywords = list(words)
    return chosen


class CorrectionsDataset:
    """The user's corrections dataset under ``root`` (module docstring). Opening it creates the
    folder, the salt and empty index files when missing, and rebuilds a lagging index."""

    def __init__(self, root=None, split_fractions=None, lock_timeout: float = 60.0):
        self.root = Path(root) if root is not None else default_corrections_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock_timeout = lock_timeout
        with self._lock():
            info = self._read_info()
            fractions = split_fractions or info.get("split_fractions") or DEFAULT_FRACTIONS
            self.split_fractions = _check_fractions(fractions)
            self._salt = self._load_salt()
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
            split, pid, scan = m.groups()
            folder = self.root / split / f"{split}_{pid}" / f"{split}_{pid}_{scan}"
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
        mac = hmac.new(self._salt, f"{kind}:{value}".encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:digits]

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
        keyword_set = _keyword_set(document, keywords)
        mask_arrays = self._check_masks(document, volume, masks)
        info = _model_info(model_info if model_info is not None else document.model)
        with self._lock():
            self._clear_incoming()
            pid, study = self._identities(volume)
            split = split_of(pid, self.split_fractions)
            scan = f"{study}r{self._next_revision(split, pid, study)}"
            name = f"{split}_{pid}_{scan}_1"
            final = self.root / split / f"{split}_{pid}" / f"{split}_{pid}_{scan}"
            if final.exists():
                raise CtrgError(f"record folder {final.name} exists already")
            tmp = self.root / ".incoming" / uuid.uuid4().hex
            tmp.mkdir(parents=True)
            try:
                record = self._build(tmp, name, split, pid, study, document, volume, mask_arrays, info,
                                     keyword_set, findings, impressions, labels)
                _fsync_tree(tmp)
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

    def _read_info(self) -> dict:
        path = self.root / "dataset.json"
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError):
            return {}  # rewritten from the records below
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise CtrgError(f"{self.root} is not a corrections dataset (its dataset.json is something else)")
        return info

    def _index_stale(self, info: dict) -> bool:
        return int(info.get("count", -1)) != len(self.record_dirs())

    def _load_salt(self) -> bytes:
        path = self.root / ".salt"
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

    def _identities(self, volume: Volume) -> tuple[str, str]:
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
        return self.pseudonym("patient", patient, 10), self.pseudonym("study", study_id, 8)

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
    def _check_masks(document, volume: Volume, masks) -> list[tuple[int, str, np.ndarray]]:
        out = []
        for key, mask in (masks or {}).items():
            index = document._index(key)
            array = np.asarray(mask)
            if array.shape != volume.shape:
                raise CtrgError(f"the mask of {document.structures[index].name!r} has shape {array.shape}, "
                                f"the study {volume.shape}")
            out.append((index, document.structures[index].name, array.astype(bool)))
        return sorted(out, key=lambda m: m[0])

    def _build(self, folder: Path, name: str, split: str, pid: str, study: str, document, volume: Volume,
               masks, info: dict, keyword_set: StructureSet, findings: str, impressions: str,
               labels: bool) -> dict:
        from ctrg_desktop.io.sitk_bridge import write_volume

        clean = _geometry_only(volume)
        write_volume(clean, folder / f"{name}.nii.gz")
        mask_entries, label_map = [], None
        if masks:
            (folder / "masks").mkdir()
            dtype = np.uint8 if len(document.structures) < 255 else np.uint16
            label_array = np.zeros(volume.shape, dtype=dtype)
            for index, structure, array in masks:
                file = f"masks/{index:02d}_{_slug(structure)}.nii.gz"
                write_volume(clean, folder / file, array=array.astype(np.uint8))
                label_array[array] = index + 1
                mask_entries.append({"structure": structure, "index": index, "file": file,
                                     "voxels": int(array.sum())})
            write_volume(clean, folder / f"{name}_labels.nii.gz", array=label_array)
            label_map = {"file": f"{name}_labels.nii.gz",
                         "legend": {str(i + 1): {"name": s.name, "structure": s.name}
                                    for i, s in enumerate(document.structures)},
                         "overlaps": "a voxel in several masks holds the highest structure index"}
        if labels:
            from ctrg_desktop.reports.labeller import label_report

            found = label_report(findings)
            label_values = {k: int(found[k]) for k in CT_RATE_LABELS}
        else:
            label_values = None
        diff = document.diff()
        array = np.ascontiguousarray(volume.array)
        record = {
            "format": RECORD_FORMAT, "format_version": FORMAT_VERSION, "record_id": name, "volume_name": name,
            "split": split, "patient": pid, "study": study, "created": _now(),
            "report_started": document.created, "app": {"name": "ctrg-desktop", "version": __version__},
            "model": info,
            "report": {"findings": findings, "impressions": impressions,
                       "structures": [{"index": s.index, "name": s.name, "colour": s.colour, "text": s.text,
                                       "sentences": [x.to_json() for x in s.sentences]}
                                      for s in document.structures]},
            "draft": {"report": document.draft_text,
                      "structures": [{"name": s.name, "sentences": [x.to_json() for x in draft]}
                                     for s, draft in zip(document.structures, document.draft_structures)]},
            "diff": diff.to_json(),
            "keywords": {"structure_set": keyword_set.name,
                         "structures": [{"name": s.name, "keywords": list(s.keywords)}
                                        for s in keyword_set.structures],
                         "changes": document.keyword_changes()},
            "labels": label_values, "labeller": "ctrg_desktop.reports.labeller" if labels else None,
            "volume": {"file": f"{name}.nii.gz", **volume.geometry.to_json(orientation=False),
                       "dtype": str(array.dtype), "voxels_sha256": hashlib.sha256(array.tobytes()).hexdigest()},
            "masks": mask_entries, "label_map": label_map,
            "history": {"edits": len(document.history.done), "revision": document.revision},
        }
        _write_synced(folder / RECORD_FILE, _json_bytes(record))
        return record

    @staticmethod
    def _name_of(folder: Path) -> str:
        return f"{folder.name}_1"

    def _rebuild_locked(self) -> dict:
        """Rewrite splits.csv, the report and label CSVs, segmentations/ and dataset.json."""
        records, skipped = [], []
        for folder in self.record_dirs():
            try:
                record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
                if record.get("format") != RECORD_FORMAT or record.get("record_id") != self._name_of(folder):
                    raise ValueError("not a record of this folder")
            except (OSError, ValueError) as exc:
                skipped.append(f"{folder.name}: {exc}")
                continue
            records.append((folder, record))
        records.sort(key=lambda fr: (fr[1].get("created", ""), fr[1]["record_id"]))
        reports = self.root / "radiology_text_reports"
        label_dir = self.root / "multi_abnormality_labels"
        for folder in (self.root, reports, label_dir, self.root / "segmentations"):
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
                tmp.unlink(missing_ok=True)  # temp files of a writer that died (we hold the lock)
        for split in SPLITS:
            mine = [r for _, r in records if r["split"] == split]
            atomic_write_text(reports / REPORT_FILES[split], _csv_text(
                REPORT_COLUMNS, [(r["record_id"], "", "", r["report"]["findings"], r["report"].get("impressions", ""))
                                 for r in mine]), SHARED_MODE)
            atomic_write_text(label_dir / LABEL_FILES[split], _csv_text(
                ("VolumeName", *CT_RATE_LABELS),
                [(r["record_id"], *(r["labels"][k] for k in CT_RATE_LABELS)) for r in mine if r.get("labels")]),
                SHARED_MODE)
        atomic_write_text(self.root / "splits.csv",
                          _csv_text(("VolumeName", "split"), [(r["record_id"], r["split"]) for _, r in records]),
                          SHARED_MODE)
        legend = self._sync_segmentations(records)
        info = {"format": FORMAT, "format_version": FORMAT_VERSION, "updated": _now(), "count": len(records),
                "split": {s: sum(r["split"] == s for _, r in records) for s in SPLITS},
                "split_fractions": list(self.split_fractions),
                "split_rule": "per patient pseudonym pid: u = int(sha256('split:' + pid)[:8], 16) / 2**32; "
                              "train if u < f_train, valid if u < f_train + f_valid, else test",
                "labels": list(CT_RATE_LABELS), "label_legend": legend, "skipped": skipped}
        atomic_write_bytes(self.root / "dataset.json", _json_bytes(info), SHARED_MODE)
        return info

    def _sync_segmentations(self, records) -> dict:
        """Link (or copy) each record's label map to segmentations/{name}_labels.nii.gz; the common legend."""
        seg = self.root / "segmentations"
        seg.mkdir(exist_ok=True)
        wanted, legends = {}, []
        for folder, record in records:
            if record.get("label_map"):
                wanted[f"{record['record_id']}_labels.nii.gz"] = folder / record["label_map"]["file"]
                legends.append(record["label_map"]["legend"])
        for path in seg.glob("*_labels.nii.gz"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)
        for file, source in wanted.items():
            target = seg / file
            if target.is_file() and os.path.samefile(target, source):
                continue
            tmp = seg / f".{file}.{uuid.uuid4().hex}.tmp"
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        fsync_directory(seg)
        legend = {}
        for item in legends:
            for value, entry in item.items():
                if legend.setdefault(value, entry) != entry:
                    return {}  # records disagree on the structures: no common legend
        return legend
