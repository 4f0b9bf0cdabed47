"""Training data of the wizard: what CT-RATE layout folders hold, merged into one for ``--data``.

:func:`summarize_datasets` counts studies per split, sentences routed per structure
(:mod:`ctrg_desktop.reports.parser`) and positive CT-RATE labels (the label CSV, else the
labeller); :func:`merge_datasets` writes one CT-RATE layout folder (CSVs + links to the volumes)
for several; :func:`held_out_split` picks the split evaluation uses.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DatasetSummary:
    """What the chosen folders hold for training (shown on the wizard's data page)."""

    roots: list[str]
    records: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    structures: dict[str, int] = field(default_factory=dict)   #: sentences routed per structure
    labels: dict[str, int] = field(default_factory=dict)       #: studies positive per CT-RATE label
    label_source: str = ""
    problems: list[str] = field(default_factory=list)
    usable: list[str] = field(default_factory=list)            #: the roots that hold studies

    @property
    def ok(self) -> bool:
        return self.splits.get("train", 0) > 0

    def message(self) -> str:
        """One line: why training cannot start, or '' when it can."""
        if self.ok:
            return ""
        if self.problems:
            return self.problems[0]
        return "no training studies: the folders hold no study in the train split"


def _dataset_records(root: Path):
    from ctrg_desktop.data.ctrate import CTRateDataset

    try:
        return CTRateDataset(root, split=None, missing="error").records, []
    except ValueError as exc:
        message = " ".join(str(exc).split())
        if "missing under" not in message:
            raise
        return CTRateDataset(root, split=None, missing="skip").records, [message]


def summarize_datasets(roots, structure_set: str = "chest_ct") -> DatasetSummary:
    """Records, split counts, sentences per structure and label counts of CT-RATE layout folders.

    A folder that is missing, empty or not in the CT-RATE layout is reported in ``problems``.
    """
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.reports.labeller import label_report
    from ctrg_desktop.reports.parser import parse_report
    from ctrg_desktop.reports.structures import load_structure_set

    summary = DatasetSummary([str(r) for r in roots])
    structures = load_structure_set(structure_set)
    summary.structures = {name: 0 for name in structures.names}
    summary.labels = {name: 0 for name in CT_RATE_LABELS}
    sources = set()
    seen = set()
    for root in map(Path, roots):
        if not root.exists():
            summary.problems.append(f"{root} does not exist yet")
            continue
        try:
            records, problems = _dataset_records(root)
        except (ValueError, OSError, KeyError) as exc:
            summary.problems.append(f"{root} cannot be read: {' '.join(str(exc).split())}")
            continue
        summary.problems += problems
        if not records:
            summary.problems.append(f"{root} holds no study with its volume")
        else:
            summary.usable.append(str(root))
        for record in records:
            if record.volume_name in seen:
                summary.problems.append(f"{record.volume_name} appears twice; the copy in {root} is left out")
                continue
            seen.add(record.volume_name)
            summary.records += 1
            summary.splits[record.split] = summary.splits.get(record.split, 0) + 1
            for sentence in parse_report(record.findings, structures).sentences:
                for index in sentence.structures:
                    summary.structures[structures.names[index]] += 1
            if set(CT_RATE_LABELS) <= set(record.labels):
                labels, source = record.labels, "dataset"
            else:
                labels, source = label_report(record.findings), "labeller"
            sources.add(source)
            for name in CT_RATE_LABELS:
                summary.labels[name] += int(labels.get(name, 0) > 0)
    summary.label_source = " + ".join(sorted(sources))
    if summary.records and not summary.ok:
        summary.problems.insert(0, "no study in the train split: training needs at least one")
    return summary


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(source.resolve())
    except OSError:
        shutil.copy2(source, target)


def merge_datasets(roots, out) -> Path:
    """One CT-RATE layout folder for several: the folder itself when only one, else ``out`` with
    every column of the tables (:func:`~ctrg_desktop.data.ctrate.write_tables`) and links to the
    volumes and label maps (a name seen twice keeps its first copy)."""
    from ctrg_desktop.data.ctrate import SPLITS, locate, segmentation_relpath, volume_relpath, write_tables

    roots = [Path(r) for r in roots]
    if not roots:
        raise ValueError("no data folder chosen")
    if len(roots) == 1:
        return locate(roots[0])
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    kept, seen = [], set()
    for root in roots:
        records, _ = _dataset_records(root)
        for r in records:
            if r.volume_name in seen:
                continue
            seen.add(r.volume_name)
            suffix = ".nii.gz" if r.volume_path.name.endswith(".nii.gz") else ".nii"
            _link(r.volume_path, out / volume_relpath(r.volume_name, r.split, suffix))
            if r.label_map_path is not None:
                _link(r.label_map_path, out / segmentation_relpath(r.volume_name))
            kept.append(r)
    if not seen:
        raise ValueError("the chosen folders hold no study with its volume")
    write_tables(out, sorted((r.layout_row() for r in kept), key=lambda row: SPLITS.index(row.split)))
    return out


def held_out_split(data_dir) -> str | None:
    """The split evaluation uses: ``test`` when it has studies, else ``valid``, else None."""
    from ctrg_desktop.data.ctrate import CTRateDataset

    for split in ("test", "valid"):
        try:
            if len(CTRateDataset(data_dir, split, missing="skip")):
                return split
        except ValueError:
            return None
    return None
