"""The report as JSON: structures with their sentences, the model, the study and the times."""

from __future__ import annotations

import json
import os

from ctrg_desktop import __version__
from ctrg_desktop.export.content import UID_KEYS, ReportContent, source_name
from ctrg_desktop.export.errors import write_export
from ctrg_desktop.export.result import ExportResult

FORMAT = "ctrg-report"
FORMAT_VERSION = 1


def report_json(content: ReportContent, identifiers: bool = False) -> dict:
    """JSON-ready dict. Unless ``identifiers``, the study's DICOM UIDs are left out and its source
    path is cut to the file name (both can identify a patient); the grid and format are kept.
    Measurements are as ``Measurement.to_json`` (LPS mm)."""
    study = {k: v for k, v in content.study.items() if identifiers or k not in UID_KEYS}
    if not identifiers and study.get("source"):
        study["source"] = source_name(study["source"])
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "ctrg_version": __version__,
            "disclaimer": content.disclaimer, "created": content.created, "drafted": content.drafted,
            "edited": content.edited, "model": dict(content.model), "study": study,
            "structures": [{"name": s.name, "colour": s.colour, "sentences": list(s.sentences), "text": s.text}
                           for s in content.structures],
            "measurements": [m.to_json() for m in content.measurements]}


def write_json(content: ReportContent, path: str | os.PathLike, identifiers: bool = False) -> ExportResult:
    """Write :func:`report_json` to ``path`` (UTF-8, indented, atomically)."""
    text = json.dumps(report_json(content, identifiers), indent=2, ensure_ascii=False) + "\n"
    return ExportResult(write_export(path, text))
