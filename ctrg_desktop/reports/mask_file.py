"""Segmentation masks on disk: one compressed ``.npz`` (no pickles) holding every mask of a study.

Members: ``meta`` (UTF-8 JSON as uint8: format, shape, and per mask its name, colour, structure,
algorithm, opacity, visibility and voxel count) and ``mask0``, ``mask1``... (the bool ``[k, j, i]``
arrays as ``np.packbits`` bits). Writing is split so a GUI can pack on its own thread (fast) and
compress + write elsewhere: :func:`pack_masks`, then :func:`write_masks` (crash-safe, via
:func:`ctrg_desktop.atomic.atomic_write_bytes`). Used by the autosave (``<study key>.masks.npz``)
and beside a saved report (``report.masks.npz``, :func:`masks_path_for`).
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctrg_desktop.atomic import atomic_write_bytes
from ctrg_desktop.errors import CtrgError

FORMAT = "ctrg-masks"
FORMAT_VERSION = 1
SUFFIX = ".masks.npz"


@dataclass
class SavedMask:
    """One mask as stored (``array``: bool ``[k, j, i]`` on the study grid)."""

    name: str
    array: np.ndarray = field(repr=False)
    colour: str = "#00e5ff"
    structure: str | None = None
    algorithm: str | None = None
    opacity: float = 0.5
    visible: bool = True


@dataclass
class PackedMasks:
    """Masks ready to write: their metadata and packed bits (no reference to live arrays)."""

    shape: tuple[int, int, int]
    meta: list[dict]
    bits: list[np.ndarray] = field(repr=False)
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.meta]


def masks_path_for(report_path) -> Path:
    """``report.json`` -> ``report.masks.npz`` (same folder)."""
    report_path = Path(report_path)
    return report_path.with_name(report_path.name.removesuffix(".json") + SUFFIX)


def pack_masks(masks, shape, extra: dict | None = None) -> PackedMasks:
    """Copy ``masks`` (objects with name, array, colour, structure, algorithm, opacity, visible)
    into packed bits; empty masks are left out. ``extra``: JSON data kept in ``meta``."""
    shape = tuple(int(n) for n in shape)
    meta, bits = [], []
    for mask in masks:
        array = np.asarray(mask.array, dtype=bool)
        if array.shape != shape:
            raise CtrgError(f"mask {mask.name!r} has shape {array.shape}, the study {shape}")
        voxels = int(np.count_nonzero(array))
        if not voxels:
            continue
        meta.append({"name": str(mask.name), "colour": str(mask.colour), "structure": mask.structure,
                     "algorithm": getattr(mask, "algorithm", None),
                     "opacity": float(getattr(mask, "opacity", 0.5)),
                     "visible": bool(getattr(mask, "visible", True)), "voxels": voxels})
        bits.append(np.packbits(array, axis=None))
    return PackedMasks(shape, meta, bits, dict(extra or {}))


def masks_to_bytes(packed: PackedMasks) -> bytes:
    """The ``.npz`` file's bytes (compressed)."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "shape": list(packed.shape),
              "saved": datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"),
              "masks": packed.meta, "extra": packed.extra}
    arrays = {"meta": np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)}
    arrays.update({f"mask{n}": b for n, b in enumerate(packed.bits)})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def write_masks(path, packed: PackedMasks) -> Path:
    """Write ``packed`` to ``path`` crash-safely (temp file, fsync, rename)."""
    return atomic_write_bytes(path, masks_to_bytes(packed))


def read_header(path) -> dict:
    """The ``meta`` of a masks file (format, shape, saved, masks, extra); ``CtrgError`` when invalid."""
    return _open(path)[0]


def read_masks(path, shape=None) -> list[SavedMask]:
    """The masks of ``path``; ``shape`` (the open study's) must match. ``CtrgError`` when invalid."""
    header, data = _open(path)
    stored = tuple(int(n) for n in header["shape"])
    if shape is not None and stored != tuple(int(n) for n in shape):
        raise CtrgError(f"the masks in {Path(path).name} are {stored}, the open study {tuple(shape)}")
    count = int(np.prod(stored))
    out = []
    try:
        for n, item in enumerate(header["masks"]):
            bits = data[f"mask{n}"]
            array = np.unpackbits(bits, count=count).astype(bool).reshape(stored)
            out.append(SavedMask(str(item["name"]), array, str(item.get("colour", "#00e5ff")),
                                 item.get("structure"), item.get("algorithm"), float(item.get("opacity", 0.5)),
                                 bool(item.get("visible", True))))
    except (KeyError, TypeError, ValueError) as exc:
        raise CtrgError(f"the masks file {Path(path).name} is damaged: {exc}") from exc
    return out


def _open(path) -> tuple[dict, dict]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CtrgError(f"cannot read the masks file {path.name}: {exc}") from exc
    try:
        header = json.loads(bytes(data.pop("meta")).decode("utf-8"))
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CtrgError(f"{path.name} is not a ctrg masks file") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CtrgError(f"{path.name} is not a ctrg masks file")
    if int(header.get("format_version", 0)) > FORMAT_VERSION:
        raise CtrgError(f"the masks file {path.name} was written by a newer ctrg-desktop")
    return header, data
