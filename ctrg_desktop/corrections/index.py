"""The corrections dataset's derived files, rewritten from its record folders: the CT-RATE tables
(:func:`ctrg_desktop.data.ctrate.write_tables`), ``segmentations/`` (links to the records' label maps)
and ``dataset.json``. Each file is replaced atomically; the caller holds the dataset's lock."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from ctrg_desktop.atomic import fsync_directory
from ctrg_desktop.corrections.pseudonyms import SPLIT_RULE
from ctrg_desktop.corrections.record import FORMAT_VERSION, RECORD_FILE, RECORD_FORMAT, now
from ctrg_desktop.data.ctrate import (DATASET_INFO, LABELS_DIR, REPORTS_DIR, SEGMENTATIONS_DIR, SPLITS, LayoutRow,
                                      segmentation_relpath, write_dataset_info, write_tables)
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.errors import CtrgError

FORMAT = "ctrg-corrections"


def read_records(folders: list[Path]) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(folder, record) of each readable record of its own folder, oldest first; and why others were skipped."""
    records, skipped = [], []
    for folder in folders:
        try:
            record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
            if record.get("format") != RECORD_FORMAT or record.get("record_id") != f"{folder.name}_1":
                raise ValueError("not a record of this folder")
        except (OSError, ValueError) as exc:
            skipped.append(f"{folder.name}: {exc}")
            continue
        records.append((folder, record))
    records.sort(key=lambda fr: (fr[1].get("created", ""), fr[1]["record_id"]))
    return records, skipped


def rebuild_index(root: Path, folders: list[Path], split_fractions, mode: int) -> dict:
    """Rewrite splits.csv, the report and label CSVs, segmentations/ and dataset.json of ``root`` from
    the record ``folders``; returns dataset.json's content."""
    records, skipped = read_records(folders)
    for folder in (root, root / REPORTS_DIR, root / LABELS_DIR, root / SEGMENTATIONS_DIR):
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
            tmp.unlink(missing_ok=True)  # temp files of a writer that died (the caller holds the lock)
    write_tables(root, [LayoutRow(r["record_id"], r["split"], r["report"]["findings"],
                                  r["report"].get("impressions", ""), labels=r.get("labels"))
                        for _, r in records], mode)
    legend = sync_segmentations(root, records)
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "updated": now(), "count": len(records),
            "split": {s: sum(r["split"] == s for _, r in records) for s in SPLITS},
            "split_fractions": list(split_fractions), "split_rule": SPLIT_RULE,
            "labels": list(CT_RATE_LABELS), "label_legend": legend, "skipped": skipped}
    write_dataset_info(root, info, mode)
    return info


def read_info(root: Path) -> dict:
    """``root/dataset.json`` of a corrections dataset; {} when missing or unreadable (rebuilt from the
    records); ``CtrgError`` when it is another dataset's."""
    try:
        info = json.loads((root / DATASET_INFO).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CtrgError(f"{root} is not a corrections dataset (its dataset.json is something else)")
    return info


def sync_segmentations(root: Path, records) -> dict:
    """Link (or copy) each record's label map to segmentations/{name}_labels.nii.gz; the common legend."""
    seg = root / SEGMENTATIONS_DIR
    seg.mkdir(exist_ok=True)
    wanted, legends = {}, []
    for folder, record in records:
        if record.get("label_map"):
            wanted[segmentation_relpath(record["record_id"]).name] = folder / record["label_map"]["file"]
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
