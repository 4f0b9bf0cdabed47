"""The reader's report on disk: what the reader sees, with the model's draft kept inside.

A saved report is a draft-report JSON (``ctrg-draft-report``, what ``ctrg generate`` writes) whose
``report`` and per-structure ``sentences`` / ``text`` / ``mentioned`` hold the *edited* report, so
any reader of the format sees the final text, plus two members:

* ``model_draft``: the model's own ``report``, ``raw_text`` and sentences per structure;
* ``document``: the edited :class:`~ctrg_desktop.reports.document.ReportDocument` (sentence ids and
  origins, edited keywords, the model's sentences for the diff, the undo history marked clean).

:func:`read_report` gives the model's draft back (for the evidence and the diff) with the edited
document; a file without those members (a draft of ``ctrg generate``, a save of an older version)
opens as the model's draft with no document. Beside the JSON: ``<stem>.attention.npy`` and, when
masks were saved with the report, ``<stem>.masks.npz`` (:mod:`ctrg_desktop.reports.mask_file`),
and when measurements were, ``<stem>.measurements.json`` (:mod:`ctrg_desktop.measurements.files`).
Every file is written crash-safely; the JSON last.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctrg_desktop.atomic import atomic_write_bytes, atomic_write_text
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.files import measurements_path_for, write_measurements
from ctrg_desktop.reports.document import ReportDocument
from ctrg_desktop.reports.mask_file import PackedMasks, masks_path_for, write_masks


@dataclass
class SavedFiles:
    report: Path
    attention: Path | None = None
    masks: Path | None = None
    mask_names: tuple[str, ...] = ()
    measurements: Path | None = None


@dataclass
class OpenedReport:
    """A report file read back: the model's ``draft``, the reader's ``document`` (None for a plain
    draft), and the masks and measurements files beside it (None when there is none)."""

    path: Path
    draft: object
    document: ReportDocument | None = None
    masks: Path | None = None
    measurements: Path | None = None


def report_json(draft, document: ReportDocument) -> dict:
    """The saved form of ``document`` (edited from ``draft``): see the module docstring."""
    data = draft.to_json()
    if [s["name"] for s in data["structures"]] != document.names:
        raise CtrgError("the report's structures are not those of its draft")
    data["model_draft"] = {"report": draft.report, "raw_text": draft.raw_text,
                           "structures": [{"name": s.name, "sentences": list(s.sentences), "text": s.text,
                                           "mentioned": bool(s.mentioned)} for s in draft.structures]}
    texts = document.structure_texts()
    for item, section, text in zip(data["structures"], document.structures, texts):
        item["sentences"] = [s.text for s in section.sentences]
        item["text"] = text
        item["mentioned"] = bool(section.sentences)
    data["report"] = document.report_text()
    data["document"] = document.to_json()
    return data


def write_report(path, draft, document: ReportDocument, masks: PackedMasks | None = None,
                 measurements: dict | None = None) -> SavedFiles:
    """Write the edited report to ``path`` (+ attention map, + masks or no stale masks file, +
    ``measurements`` packed by :func:`~ctrg_desktop.measurements.files.pack_measurements` or no
    stale measurements file).

    ``document`` should be marked clean first (the saved history then opens unmodified).
    """
    path = Path(path)
    data = report_json(draft, document)
    saved = SavedFiles(path)
    if draft.attention is not None:
        from ctrg_desktop.inference import attention_path_for

        saved.attention = attention_path_for(path)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(draft.attention, dtype=np.float32), allow_pickle=False)
        atomic_write_bytes(saved.attention, buffer.getvalue(), mode=0o644)
        data["attention"]["file"] = saved.attention.name
    beside = masks_path_for(path)
    if masks is not None and masks.meta:
        saved.masks = write_masks(beside, masks)
        saved.mask_names = tuple(masks.names)
    else:
        beside.unlink(missing_ok=True)  # masks deleted since the last save must not come back
    beside = measurements_path_for(path)
    if measurements is not None and measurements.get("measurements"):
        saved.measurements = write_measurements(beside, measurements)
    else:
        beside.unlink(missing_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=0o644)
    return saved


def read_report(path) -> OpenedReport:
    """Read a saved report or a plain draft (module docstring); ``CtrgError`` when malformed."""
    from ctrg_desktop.inference import draft_from_json

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CtrgError(f"{path} is not valid JSON: {exc}") from exc
    document = None
    if isinstance(data, dict) and data.get("document") is not None:
        data = _with_model_draft(data, path)
        document = ReportDocument.from_json(data["document"])
    draft = draft_from_json(data, path)
    if document is not None and document.names != [s.name for s in draft.structures]:
        raise CtrgError(f"{path.name}: the edited report's structures are not those of its draft")
    beside, measured = masks_path_for(path), measurements_path_for(path)
    return OpenedReport(path, draft, document, beside if beside.is_file() else None,
                        measured if measured.is_file() else None)


def _with_model_draft(data: dict, path: Path) -> dict:
    """``data`` with the model's draft (``model_draft``) in place of the edited text."""
    model = data.get("model_draft")
    try:
        out = dict(data)
        out["report"], out["raw_text"] = model["report"], model.get("raw_text", model["report"])
        out["structures"] = copy.deepcopy(data["structures"])
        if [s["name"] for s in model["structures"]] != [s["name"] for s in out["structures"]]:
            raise ValueError("its structures differ from the report's")
        for item, original in zip(out["structures"], model["structures"]):
            item.update(sentences=list(original["sentences"]), text=original["text"],
                        mentioned=bool(original["mentioned"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CtrgError(f"{path.name} holds an edited report without a valid model draft: {exc}") from exc
    return out
