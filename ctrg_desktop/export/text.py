"""The report as plain text: for a .txt file and for the clipboard (the same text)."""

from __future__ import annotations

import datetime
import os

from ctrg_desktop.export.content import ReportContent
from ctrg_desktop.export.errors import write_export
from ctrg_desktop.export.result import ExportResult
from ctrg_desktop.measurements import KINDS

#: Written under a structure with no sentence (the reader deleted them all).
NOTHING_REPORTED = "(nothing reported)"


def plain_text(content: ReportContent) -> str:
    """Title, the not-for-clinical-use line, the study, then one section per structure."""
    lines = ["CT REPORT (DRAFT)", content.disclaimer, ""]
    study = study_line(content.study)
    if study:
        lines.append(f"Study: {study}")
    lines.append(times_line(content))
    lines.append("")
    lines.append("FINDINGS")
    for s in content.structures:
        lines += ["", f"{s.name[:1].upper()}{s.name[1:]}:", s.text or NOTHING_REPORTED]
    if content.measurements:
        lines += ["", "MEASUREMENTS", ""] + [measurement_line(m) for m in content.measurements]
    return "\n".join(lines) + "\n"


def measurement_line(measurement) -> str:
    """``M1 (Length, axial 58): 45.3 mm``."""
    return f"{measurement.label} ({KINDS[measurement.kind]}, {measurement.where().lower()}): {measurement.summary()}"


def clipboard_text(content: ReportContent) -> str:
    """The text the GUI copies to the clipboard (the plain-text export)."""
    return plain_text(content)


def display_time(iso: str) -> str:
    """``2026-05-01T14:03:22+02:00`` -> ``2026-05-01 14:03 UTC+02:00`` (unparsable text unchanged)."""
    try:
        when = datetime.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    zone = f" {when.tzname()}" if when.tzinfo is not None else ""
    return when.strftime("%Y-%m-%d %H:%M") + zone


def times_line(content: ReportContent) -> str:
    """``Created: ... (drafted ...)``."""
    drafted = f" (drafted {display_time(content.drafted)})" if content.drafted else ""
    return f"Created: {display_time(content.created)}{drafted}"


def study_line(study: dict) -> str:
    """``dicom-series, 20 x 512 x 512 voxels at 2 x 0.977 x 0.977 mm`` (no identifiers)."""
    parts = []
    if study.get("format"):
        parts.append(str(study["format"]))
    if study.get("shape"):
        size = " x ".join(str(int(n)) for n in study["shape"])
        spacing = study.get("spacing")
        at = f" at {' x '.join(f'{float(s):.3g}' for s in spacing)} mm" if spacing else ""
        parts.append(f"{size} voxels{at}")
    return ", ".join(parts)


def write_text(content: ReportContent, path: str | os.PathLike) -> ExportResult:
    """Write :func:`plain_text` to ``path`` (UTF-8, atomically)."""
    return ExportResult(write_export(path, plain_text(content)))
