"""The report as a DICOM Comprehensive SR in the study of its source series (highdicom).

Content tree (laid out like a Basic Diagnostic Imaging Report, TID 2000)::

    CONTAINER  Diagnostic Imaging Report (LN 18748-4)
      HAS CONCEPT MOD  CODE  Language of Content Item and Descendants = English
      HAS OBS CONTEXT  Observer Type = Device; the model (name, version) as the device observer
      CONTAINS  TEXT  Comment (DCM 121106) = the not-for-clinical-use line
      CONTAINS  CONTAINER  Findings (DCM 121070)
        CONTAINS  TEXT  Finding (DCM 121071) = one structure's sentences     (one per structure)
          HAS CONCEPT MOD  CODE  Finding Site (SCT 363698007) = the structure
      CONTAINS  CONTAINER  Imaging Measurements (DCM 126010)     (the reader's measurements, when any:
                                                                  :mod:`ctrg_desktop.export.measurement_sr`)

The document is flagged PARTIAL, UNVERIFIED and PRELIMINARY (a draft). Its evidence, the
source series' instances, puts it in the source study (patient and study attributes copied)
and references the series. Structures without a sentence are left out.
"""

from __future__ import annotations

import os

from highdicom.sr import (CodeContentItem, CodedConcept, ComprehensiveSR, ContainerContentItem,
                          DeviceObserverIdentifyingAttributes, LanguageOfContentItemAndDescendants,
                          ObserverContext, RelationshipTypeValues, TextContentItem)
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from ctrg_desktop.export.coding import structure_code
from ctrg_desktop.export.content import ReportContent, study_grid
from ctrg_desktop.export.dicom_source import SourceSeries, load_source_series
from ctrg_desktop.export.errors import ExportError, export_path
from ctrg_desktop.export.measurement_sr import measurements_container
from ctrg_desktop.export.result import ExportResult

SR_SERIES_NUMBER = 9000
_REPORT = CodedConcept("18748-4", "LN", "Diagnostic Imaging Report")
_ENGLISH = CodedConcept("en", "RFC5646", "English")


def _code(code) -> CodedConcept:
    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def write_dicom_sr(content: ReportContent, path: str | os.PathLike, *,
                   series_description: str = "ctrg-desktop draft report",
                   source: SourceSeries | None = None) -> ExportResult:
    """Write ``content`` as a Comprehensive SR referencing its DICOM study (module docstring).

    ExportError when the study was not read from DICOM. ``source``: the already loaded source
    series (else read again from the study's folder, zip or file).
    """
    if not content.is_dicom:
        fmt = content.study.get("format") or "an unknown format"
        raise ExportError(f"a DICOM SR belongs to the study's DICOM series, but this study was read from {fmt}: "
                          "export the report as text, JSON or PDF instead")
    sections = [s for s in content.structures if s.text]
    if not sections and not content.measurements:
        raise ExportError("the report has no sentences to export")
    source = source or load_source_series(content)
    sr = ComprehensiveSR(
        evidence=source.datasets, content=report_tree(content, source), series_instance_uid=generate_uid(),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="ctrg-desktop", is_complete=False, is_final=False, is_verified=False,
        specific_character_set="ISO_IR 192")
    sr.SeriesDescription = series_description[:64]
    with export_path(path) as tmp:
        sr.save_as(tmp, enforce_file_format=True)
    return ExportResult(path, list(source.warnings))


def report_tree(content: ReportContent, source: SourceSeries | None = None) -> ContainerContentItem:
    """The root CONTAINER of the SR content (module docstring); ``source`` places the measurements
    on its images."""
    root = ContainerContentItem(name=_REPORT)
    items = list(LanguageOfContentItemAndDescendants(_ENGLISH))
    device = DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=[content.model_name, content.model_version]),
        name=content.model_name[:64], manufacturer_name="ctrg-desktop",
        model_name=(content.model_version or content.model_name)[:64])
    items.extend(ObserverContext(observer_type=_code(codes.DCM.Device), observer_identifying_attributes=device))
    items.append(TextContentItem(name=_code(codes.DCM.Comment), value=content.disclaimer,
                                 relationship_type=RelationshipTypeValues.CONTAINS))
    findings = ContainerContentItem(name=_code(codes.DCM.Findings), relationship_type=RelationshipTypeValues.CONTAINS)
    findings.ContentSequence = [finding_item(s.name, s.text) for s in content.structures if s.text]
    items.append(findings)
    if content.measurements:
        grid = study_grid(content.study) if source is not None else None
        items.append(measurements_container(content.measurements, grid, source))
    root.ContentSequence = items
    return root


def finding_item(structure: str, text: str) -> TextContentItem:
    """TEXT Finding = ``text`` with its Finding Site (the structure)."""
    item = TextContentItem(name=_code(codes.DCM.Finding), value=text, relationship_type=RelationshipTypeValues.CONTAINS)
    item.ContentSequence = [CodeContentItem(name=_code(codes.SCT.FindingSite), value=structure_code(structure),
                                            relationship_type=RelationshipTypeValues.HAS_CONCEPT_MOD)]
    return item
