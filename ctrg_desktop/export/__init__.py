"""Exports of a report and its masks (no Qt here; the PDF export is ``ctrg_desktop.app.export_pdf``).

* :class:`ReportContent` (``from_draft`` / ``from_document``) and :class:`MaskSpec`: the input.
* Report: :func:`write_text` / :func:`plain_text` / :func:`clipboard_text`, :func:`write_json`,
  :func:`write_dicom_sr` (DICOM studies only).
* Masks: :func:`write_nifti_labelmap`, :func:`write_nifti_masks`, :func:`write_dicom_seg`
  (DICOM studies only).

Every writer replaces its target atomically (:func:`ctrg_desktop.atomic.atomic_path`: temporary
file, fsync, ``os.replace``), returns an :class:`ExportResult` (path, files, warnings for the user)
and raises :class:`ExportError` (a ``CtrgError``) with a one-line message on bad input. The
DICOM writers (and highdicom, slow to import) load on first use.
"""

import importlib

from ctrg_desktop.export.content import ReportContent, StructureText, study_grid, study_info
from ctrg_desktop.export.errors import ExportError
from ctrg_desktop.export.json_export import report_json, write_json
from ctrg_desktop.export.masks import MaskSpec
from ctrg_desktop.export.nifti import write_nifti_labelmap, write_nifti_masks
from ctrg_desktop.export.result import ExportResult
from ctrg_desktop.export.text import clipboard_text, plain_text, write_text

__all__ = ["ExportError", "ExportResult", "MaskSpec", "ReportContent", "SourceSeries", "StructureText",
           "clipboard_text", "load_source_series", "plain_text", "report_json", "study_grid", "study_info",
           "write_dicom_seg", "write_dicom_sr", "write_json", "write_nifti_labelmap", "write_nifti_masks",
           "write_text"]

_LAZY = {"write_dicom_seg": "dicom_seg", "write_dicom_sr": "dicom_sr", "SourceSeries": "dicom_source",
         "load_source_series": "dicom_source"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"ctrg_desktop.export.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
