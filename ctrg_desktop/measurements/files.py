"""Measurements on disk: one JSON file per study (``ctrg-measurements``), written crash-safely.

``{"format", "format_version", "saved", "study": {"shape", "spacing"}, "extra", "measurements": [...]}``
with each measurement as :meth:`~ctrg_desktop.measurements.model.Measurement.to_json` (LPS
points, view, slice, label, values). The study's grid is kept so measurements are never put on
another study. Used beside a saved report (``report.measurements.json``,
:func:`measurements_path_for`), by the autosave (``<study key>.measurements.json``) and by
"Save measurements".
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from ctrg_desktop.atomic import atomic_write_text
from ctrg_desktop.measurements.model import Measurement, MeasurementError

FORMAT = "ctrg-measurements"
FORMAT_VERSION = 1
SUFFIX = ".measurements.json"


def measurements_path_for(report_path) -> Path:
    """``report.json`` -> ``report.measurements.json`` (same folder)."""
    report_path = Path(report_path)
    return report_path.with_name(report_path.name.removesuffix(".json") + SUFFIX)


def pack_measurements(measurements, shape=None, spacing=None, extra: dict | None = None) -> dict:
    """The file's content for ``measurements`` (a MeasurementSet or a list) on a ``shape`` /
    ``spacing`` grid (default: the set's own)."""
    shape = shape if shape is not None else getattr(measurements, "shape", None)
    spacing = spacing if spacing is not None else getattr(measurements, "spacing", None)
    return {"format": FORMAT, "format_version": FORMAT_VERSION,
            "saved": datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "study": {"shape": [int(n) for n in shape] if shape is not None else None,
                      "spacing": [float(s) for s in spacing] if spacing is not None else None},
            "extra": dict(extra or {}), "measurements": [m.to_json() for m in measurements]}


def write_measurements(path, packed: dict) -> Path:
    """Write :func:`pack_measurements`' result to ``path`` (temp file, fsync, rename)."""
    return atomic_write_text(path, json.dumps(packed, indent=1, ensure_ascii=False) + "\n", mode=0o644)


def read_header(path) -> dict:
    """The whole file as checked JSON (format, saved, study, measurements); MeasurementError when invalid."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MeasurementError(f"cannot read the measurements file {path.name}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MeasurementError(f"{path.name} is not a ctrg measurements file")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise MeasurementError(f"the measurements file {path.name} was written by a newer ctrg-desktop")
    if not isinstance(data.get("measurements"), list):
        raise MeasurementError(f"the measurements file {path.name} is damaged: no list of measurements")
    return data


def read_measurements(path, shape=None) -> list[Measurement]:
    """The measurements of ``path``; ``shape`` (the open study's) must match the file's."""
    data = read_header(path)
    stored = (data.get("study") or {}).get("shape")
    if shape is not None and stored is not None and [int(n) for n in stored] != [int(n) for n in shape]:
        raise MeasurementError(f"the measurements in {Path(path).name} belong to a {list(stored)} study, "
                               f"the open study is {list(shape)}")
    out = [Measurement.from_json(item) for item in data["measurements"]]
    if shape is not None:
        for m in out:
            if not 0 <= m.slice < int(shape[m.axis]):
                raise MeasurementError(f"measurement {m.label} lies on slice {m.slice + 1}, outside the study")
    return out


def autosave_path(store, key: str) -> Path:
    """Where an :class:`~ctrg_desktop.reports.autosave.AutosaveStore` keeps ``key``'s measurements."""
    return store.path_for(key).with_name(f"{key}{SUFFIX}")
