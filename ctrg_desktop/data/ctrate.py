"""Reader of a CT-RATE layout folder: the real CT-RATE dataset or phantoms written by this project.

Layout (``ROOT`` may also be a folder holding it as ``dataset/``)::

    ROOT/radiology_text_reports/{train,validation,valid,test}_reports.csv   VolumeName, Findings_EN, Impressions_EN
    ROOT/multi_abnormality_labels/{train,valid,test}_predicted_labels.csv  VolumeName + the 18 labels (optional)
    ROOT/{split}/{split}_{pid}/{split}_{pid}_{scan}/{name}.nii.gz          or flat ROOT/{split}/{name}.nii.gz
    ROOT/splits.csv                                                       VolumeName, split (optional)
    ROOT/segmentations/{name}_labels.nii.gz                               (optional, phantoms)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ctrg_desktop.data.labels import CT_RATE_LABELS

SPLITS = ("train", "valid", "test")
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
        self.root = _locate(Path(root))
        self.split = None if split is None else _ALIASES[split]
        self.records = self._load(missing)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def _load(self, missing: str) -> list[CTRateRecord]:
        splits = _read_splits(self.root / "splits.csv")
        labels = _read_labels(self.root / "multi_abnormality_labels")
        records, absent = [], []
        for name, (findings, impressions, file_split) in _read_reports(self.root).items():
            split = splits.get(name) or _split_of_name(name) or file_split
            if self.split is not None and split != self.split:
                continue
            path = _volume_path(self.root, name, split)
            if path is None:
                absent.append(name)
                continue
            seg = self.root / "segmentations" / f"{name}_labels.nii.gz"
            records.append(CTRateRecord(name, path, findings, impressions, labels.get(name, {}),
                                        seg if seg.is_file() else None, split))
        if absent and missing == "error":
            shown = ", ".join(absent[:5]) + (", ..." if len(absent) > 5 else "")
            raise ValueError(f"{len(absent)} volume(s) listed in the reports are missing under {self.root}: "
                             f"{shown} (pass missing='skip' to ignore them)")
        return records


def _locate(root: Path) -> Path:
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    for candidate in (root, root / "dataset"):
        if any((candidate / "radiology_text_reports").glob("*_reports.csv")):
            return candidate
    raise ValueError(f"{root} is not a CT-RATE layout folder: no radiology_text_reports/*_reports.csv")


def _rows(path: Path, required) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        lacking = [c for c in required if c not in (reader.fieldnames or [])]
        if lacking:
            raise ValueError(f"{path}: missing column(s) {', '.join(lacking)}")
        return list(reader)


def _read_reports(root: Path) -> dict[str, tuple[str, str, str | None]]:
    """VolumeName -> (findings, impressions, split named by the file) over every reports CSV."""
    out = {}
    files = {path: _ALIASES.get(path.name[: -len("_reports.csv")])
             for path in sorted((root / "radiology_text_reports").glob("*_reports.csv"))}
    for path, file_split in sorted(files.items(), key=lambda kv: SPLITS.index(kv[1]) if kv[1] else len(SPLITS)):
        for row in _rows(path, _REQUIRED):
            out.setdefault(row["VolumeName"], (row["Findings_EN"] or "", row["Impressions_EN"] or "", file_split))
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


def _volume_path(root: Path, name: str, split: str | None) -> Path | None:
    """The volume file by CT-RATE nesting, else flat under its split folder; None if absent."""
    m = _NAME.match(name)
    folders = []
    if m:
        s, pid, scan, _ = m.groups()
        folders.append(root / s / f"{s}_{pid}" / f"{s}_{pid}_{scan}")
    folders += [root / split] if split else []
    for folder in folders:
        for suffix in (".nii.gz", ".nii"):
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    return None


def label_legend(root) -> dict:
    """The legend of the folder's label maps (fine label -> structure name): ``dataset.json``'s
    ``label_legend`` when present, else the phantoms' built-in one. ValueError if unreadable."""
    import json

    meta = _locate(Path(root)) / "dataset.json"
    if meta.is_file():
        try:
            legend = json.loads(meta.read_text()).get("label_legend")
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {meta}: {exc}") from exc
        if legend:
            return legend
    from ctrg_desktop.data.phantoms.labelmap import STRUCTURE_OF_LABEL

    return dict(STRUCTURE_OF_LABEL)
