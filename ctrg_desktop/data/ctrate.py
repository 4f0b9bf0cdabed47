"""The CT-RATE layout, read and written in one place: the real CT-RATE dataset, phantoms, the
corrections store and the wizard's merged training folders all go through this module.

Layout (``ROOT`` may also be a folder holding it as ``dataset/``)::

    ROOT/radiology_text_reports/{train,validation,valid,test}_reports.csv   REPORT_COLUMNS (the reader needs
                                                                          VolumeName, Findings_EN, Impressions_EN)
    ROOT/multi_abnormality_labels/{train,valid,test}_predicted_labels.csv  VolumeName + the 18 labels (optional)
    ROOT/{split}/{split}_{pid}/{split}_{pid}_{scan}/{name}.nii.gz          or flat ROOT/{split}/{name}.nii.gz
    ROOT/splits.csv                                                       VolumeName, split (optional)
    ROOT/segmentations/{name}_labels.nii.gz                               (optional: phantoms, corrections)
    ROOT/dataset.json                                                     (optional) ``label_legend``, counts

Reading: :class:`CTRateDataset`. Writing: :func:`write_tables` (the three CSV kinds, from
:class:`LayoutRow`s), :func:`volume_relpath` and :func:`segmentation_relpath` (where the files go),
:func:`write_dataset_info` (``dataset.json``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctrg_desktop.atomic import atomic_write_text
from ctrg_desktop.data.labels import CT_RATE_LABELS

SPLITS = ("train", "valid", "test")
REPORTS_DIR = "radiology_text_reports"
LABELS_DIR = "multi_abnormality_labels"
SEGMENTATIONS_DIR = "segmentations"
SPLITS_FILE = "splits.csv"
DATASET_INFO = "dataset.json"
REPORT_FILES = {"train": "train_reports.csv", "valid": "validation_reports.csv", "test": "test_reports.csv"}
LABEL_FILES = {s: f"{s}_predicted_labels.csv" for s in SPLITS}
REPORT_COLUMNS = ("VolumeName", "ClinicalInformation_EN", "Technique_EN", "Findings_EN", "Impressions_EN")
LABEL_COLUMNS = ("VolumeName", *CT_RATE_LABELS)
SHARED_MODE = 0o644  #: the layout's files are readable by others (atomic writes default to 0600)
_ALIASES = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}
_NAME = re.compile(r"^(train|valid|test)_([^_]+)_([^_]+)_([^_]+)$")
_REQUIRED = ("VolumeName", "Findings_EN", "Impressions_EN")


@dataclass(frozen=True)
class CTRateRecord:
    """One CT-RATE volume with its report and labels (``labels`` empty when no label CSV)."""

    volume_name: str
    volume_path: Path
    findings: str
    impressions: str
    labels: dict[str, int]
    label_map_path: Path | None
    split: str
    clinical_information: str = ""
    technique: str = ""

    def layout_row(self) -> LayoutRow:
        """The record's row for :func:`write_tables` (every column it was read with)."""
        return LayoutRow(self.volume_name, self.split, self.findings, self.impressions, self.clinical_information,
                         self.technique, self.labels)


@dataclass(frozen=True)
class LayoutRow:
    """One study's row in the layout's tables; ``labels`` without all 18 CT-RATE labels gets no label row."""

    volume_name: str
    split: str                   #: "train", "valid" or "test"
    findings: str
    impressions: str = ""
    clinical_information: str = ""
    technique: str = ""
    labels: Mapping[str, int] | None = None


class CTRateDataset(Sequence):
    """The records of one split (``"train"``, ``"valid"``/``"validation"``, ``"test"``, or None for all).

    ``missing="error"`` raises ``ValueError`` naming volumes listed in the reports but absent on
    disk; ``missing="skip"`` leaves them out (CT-RATE is often downloaded in part).
    """

    def __init__(self, root, split: str | None = "train", missing: str = "error"):
        if split is not None and split not in _ALIASES:
            raise ValueError(f"unknown split {split!r}: use train, valid, test or None")
        if missing not in ("error", "skip"):
            raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
        self.root = locate(Path(root))
        self.split = None if split is None else _ALIASES[split]
        self.records = self._load(missing)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def _load(self, missing: str) -> list[CTRateRecord]:
        splits = _read_splits(self.root / SPLITS_FILE)
        labels = _read_labels(self.root / LABELS_DIR)
        records, absent = [], []
        for name, (report, file_split) in _read_reports(self.root).items():
            split = splits.get(name) or _split_of_name(name) or file_split
            if self.split is not None and split != self.split:
                continue
            path = _volume_path(self.root, name, split)
            if path is None:
                absent.append(name)
                continue
            seg = self.root / segmentation_relpath(name)
            records.append(CTRateRecord(name, path, report["Findings_EN"], report["Impressions_EN"],
                                        labels.get(name, {}), seg if seg.is_file() else None, split,
                                        report["ClinicalInformation_EN"], report["Technique_EN"]))
        if absent and missing == "error":
            shown = ", ".join(absent[:5]) + (", ..." if len(absent) > 5 else "")
            raise ValueError(f"{len(absent)} volume(s) listed in the reports are missing under {self.root}: "
                             f"{shown} (pass missing='skip' to ignore them)")
        return records


def locate(root: Path) -> Path:
    """The layout folder: ``root`` or ``root/dataset``; ``ValueError`` when neither holds reports CSVs."""
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    for candidate in (root, root / "dataset"):
        if any((candidate / REPORTS_DIR).glob("*_reports.csv")):
            return candidate
    raise ValueError(f"{root} is not a CT-RATE layout folder: no radiology_text_reports/*_reports.csv")


def _rows(path: Path, required) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        lacking = [c for c in required if c not in (reader.fieldnames or [])]
        if lacking:
            raise ValueError(f"{path}: missing column(s) {', '.join(lacking)}")
        return list(reader)


def _read_reports(root: Path) -> dict[str, tuple[dict[str, str], str | None]]:
    """VolumeName -> (REPORT_COLUMNS -> text, '' when absent; split named by the file) over every reports CSV."""
    out = {}
    files = {path: _ALIASES.get(path.name[: -len("_reports.csv")])
             for path in sorted((root / REPORTS_DIR).glob("*_reports.csv"))}
    for path, file_split in sorted(files.items(), key=lambda kv: SPLITS.index(kv[1]) if kv[1] else len(SPLITS)):
        for row in _rows(path, _REQUIRED):
            out.setdefault(row["VolumeName"], ({c: row.get(c) or "" for c in REPORT_COLUMNS}, file_split))
    return out


def _read_labels(folder: Path) -> dict[str, dict[str, int]]:
    out = {}
    for path in sorted(folder.glob("*_labels.csv")) if folder.is_dir() else []:
        for row in _rows(path, ("VolumeName",)):
            values = {k: int(float(row[k])) for k in CT_RATE_LABELS if row.get(k) not in (None, "")}
            out.setdefault(row["VolumeName"], values)
    return out


def _read_splits(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for row in _rows(path, ("VolumeName", "split")):
        if row["split"] not in _ALIASES:
            raise ValueError(f"{path}: unknown split {row['split']!r} for {row['VolumeName']}")
        out[row["VolumeName"]] = _ALIASES[row["split"]]
    return out


def _split_of_name(name: str) -> str | None:
    m = _NAME.match(name)
    return m.group(1) if m else None


def volume_relpath(name: str, split: str | None = None, suffix: str = ".nii.gz") -> Path:
    """Where a volume goes: CT-RATE nesting for a CT-RATE name (``train_3_a_1`` ->
    ``train/train_3/train_3_a/train_3_a_1.nii.gz``), else flat under ``split``; ``ValueError`` without either."""
    m = _NAME.match(name)
    if m:
        s, pid, scan, _ = m.groups()
        return Path(s, f"{s}_{pid}", f"{s}_{pid}_{scan}", f"{name}{suffix}")
    if split not in SPLITS:
        raise ValueError(f"{name!r} is not a CT-RATE volume name (split_pid_scan_n) and no split was given")
    return Path(split, f"{name}{suffix}")


def segmentation_relpath(name: str) -> Path:
    """The label map of volume ``name``: ``segmentations/{name}_labels.nii.gz``."""
    return Path(SEGMENTATIONS_DIR, f"{name}_labels.nii.gz")


def _volume_path(root: Path, name: str, split: str | None) -> Path | None:
    """The volume file by CT-RATE nesting, else flat under its split folder; None if absent."""
    folders = [root / volume_relpath(name).parent] if _NAME.match(name) else []
    folders += [root / split] if split else []
    for folder in folders:
        for suffix in (".nii.gz", ".nii"):
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    return None


def label_legend(root) -> dict:
    """The legend of the folder's label maps (fine label -> structure name): ``dataset.json``'s
    ``label_legend`` when present, else the phantoms' built-in one. ValueError if unreadable."""
    meta = locate(Path(root)) / DATASET_INFO
    if meta.is_file():
        try:
            legend = json.loads(meta.read_text()).get("label_legend")
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {meta}: {exc}") from exc
        if legend:
            return legend
    from ctrg_desktop.data.phantoms.labelmap import STRUCTURE_OF_LABEL

    return dict(STRUCTURE_OF_LABEL)


# ---------------------------------------------------------------------------------------------- writing

def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A CSV file's text (``\n`` line ends, quoted where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def layout_tables(rows: Sequence[LayoutRow]) -> dict[Path, str]:
    """Relative path -> text of every table of the layout for ``rows``: the reports and label CSVs of
    each split (every split's files, empty ones too) and ``splits.csv`` (in the order of ``rows``)."""
    for row in rows:
        if row.split not in SPLITS:
            raise ValueError(f"{row.volume_name}: unknown split {row.split!r}: use train, valid or test")
    out = {}
    for split in SPLITS:
        mine = [r for r in rows if r.split == split]
        out[Path(REPORTS_DIR, REPORT_FILES[split])] = csv_text(REPORT_COLUMNS, [
            (r.volume_name, r.clinical_information, r.technique, r.findings, r.impressions) for r in mine])
        out[Path(LABELS_DIR, LABEL_FILES[split])] = csv_text(LABEL_COLUMNS, [
            (r.volume_name, *(int(r.labels[k]) for k in CT_RATE_LABELS)) for r in mine
            if r.labels and set(CT_RATE_LABELS) <= set(r.labels)])
    out[Path(SPLITS_FILE)] = csv_text(("VolumeName", "split"), [(r.volume_name, r.split) for r in rows])
    return out


def write_tables(root, rows: Sequence[LayoutRow], mode: int = SHARED_MODE) -> None:
    """Write :func:`layout_tables` under ``root``, each file atomically (temp file, fsync, replace)."""
    root = Path(root)
    for folder in (REPORTS_DIR, LABELS_DIR):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for rel, text in layout_tables(rows).items():
        atomic_write_text(root / rel, text, mode)


def write_dataset_info(root, info: dict, mode: int = SHARED_MODE) -> Path:
    """Write ``root/dataset.json`` atomically (indented JSON; ``label_legend`` is what the reader uses)."""
    return atomic_write_text(Path(root) / DATASET_INFO, json.dumps(info, indent=2, ensure_ascii=False) + "\n", mode)
