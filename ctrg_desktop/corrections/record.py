"""One record of the corrections dataset, built in a staging folder: volume, masks, label map, record.json.

The record folder (written once, never changed)::

    {name}.nii.gz          the volume in HU, written from the voxel array and geometry only
    record.json            final text per structure, the model's draft, the diff, the edited
                           keywords, labels, model name/version/config hash, timestamps, files
    masks/NN_<structure>.nii.gz   per-structure masks (uint8), when given
    {name}_labels.nii.gz   the masks as one label map (value = structure index + 1), when given
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from ctrg_desktop import __version__
from ctrg_desktop.atomic import fsync_directory, fsync_file
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.reports.structures import StructureSet

RECORD_FORMAT = "ctrg-correction-record"
FORMAT_VERSION = 1
RECORD_FILE = "record.json"
MODEL_KEYS = ("name", "version", "config_hash", "structure_set", "tokenizer")


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "structure"


def json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            fsync_file(path)
        else:
            fsync_directory(path)
    fsync_directory(folder)


def geometry_only(volume: Volume) -> Volume:
    """A Volume with the voxels and geometry of ``volume`` and empty series/study metadata."""
    return Volume.on_grid(volume.array, volume.geometry)


def model_identity(info) -> dict:
    """The kept keys (:data:`MODEL_KEYS`) of a model info dict or ``ModelInfo``, as strings."""
    if info is None:
        return {}
    if hasattr(info, "to_dict"):
        info = info.to_dict()
    if not isinstance(info, dict):
        raise CtrgError(f"model_info is a dict (name, version, config_hash, ...), got {type(info).__name__}")
    return {k: str(info[k]) for k in MODEL_KEYS if info.get(k) not in (None, "")}


def keyword_set(document, keywords) -> StructureSet:
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


def check_masks(document, volume: Volume, masks) -> list[tuple[int, str, np.ndarray]]:
    """(structure index, name, boolean mask) of each given mask, by index; ``CtrgError`` on a wrong shape."""
    out = []
    for key, mask in (masks or {}).items():
        index = document._index(key)
        array = np.asarray(mask)
        if array.shape != volume.shape:
            raise CtrgError(f"the mask of {document.structures[index].name!r} has shape {array.shape}, "
                            f"the study {volume.shape}")
        out.append((index, document.structures[index].name, array.astype(bool)))
    return sorted(out, key=lambda m: m[0])


def build_record(folder: Path, name: str, split: str, pid: str, study: str, document, volume: Volume,
                 masks, info: dict, keywords: StructureSet, findings: str, impressions: str,
                 labels: bool) -> dict:
    """Write one record into ``folder`` (module docstring) and return its ``record.json`` content:
    ``masks`` from :func:`check_masks`, ``info`` from :func:`model_identity`, ``keywords`` from
    :func:`keyword_set`; ``labels`` runs the rule-based labeller on ``findings``."""
    from ctrg_desktop.io.sitk_bridge import write_volume

    clean = geometry_only(volume)
    write_volume(clean, folder / f"{name}.nii.gz")
    mask_entries, label_map = [], None
    if masks:
        (folder / "masks").mkdir()
        dtype = np.uint8 if len(document.structures) < 255 else np.uint16
        label_array = np.zeros(volume.shape, dtype=dtype)
        for index, structure, array in masks:
            file = f"masks/{index:02d}_{slug(structure)}.nii.gz"
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
        "split": split, "patient": pid, "study": study, "created": now(),
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
        "keywords": {"structure_set": keywords.name,
                     "structures": [{"name": s.name, "keywords": list(s.keywords)}
                                    for s in keywords.structures],
                     "changes": document.keyword_changes()},
        "labels": label_values, "labeller": "ctrg_desktop.reports.labeller" if labels else None,
        "volume": {"file": f"{name}.nii.gz", **volume.geometry.to_json(orientation=False),
                   "dtype": str(array.dtype), "voxels_sha256": hashlib.sha256(array.tobytes()).hexdigest()},
        "masks": mask_entries, "label_map": label_map,
        "history": {"edits": len(document.history.done), "revision": document.revision},
    }
    write_synced(folder / RECORD_FILE, json_bytes(record))
    return record
