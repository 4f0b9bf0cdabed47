"""DICOM SR export: read back with pydicom and highdicom; findings per structure, the source referenced."""

from __future__ import annotations

import highdicom as hd
import pydicom
import pytest

from ctrg_desktop.export import ExportError, ReportContent, study_info, write_dicom_sr
from ctrg_desktop.io.readers import read_study
from tests.export.conftest import make_draft


def _findings(ds) -> dict[str, str]:
    """{finding site meaning: text} of the Findings container."""
    findings = next(item for item in ds.ContentSequence if item.ValueType == "CONTAINER")
    assert findings.ConceptNameCodeSequence[0].CodeValue == "121070"
    out = {}
    for item in findings.ContentSequence:
        assert item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "121071"
        site = item.ContentSequence[0]
        assert site.RelationshipType == "HAS CONCEPT MOD" and site.ConceptNameCodeSequence[0].CodeValue == "363698007"
        out[site.ConceptCodeSequence[0].CodeMeaning] = item.TextValue
    return out


def test_sr_holds_the_findings_and_references_the_source(tmp_path, dicom_study, content):
    study, _, paths = dicom_study
    result = write_dicom_sr(content, tmp_path / "report.dcm")
    assert result.warnings == []
    sr = hd.sr.srread(result.path)
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage and sr.Modality == "SR"
    assert sr.StudyInstanceUID == study.meta.study_instance_uid and sr.PatientName == "Doe^Jane"
    assert (sr.CompletionFlag, sr.VerificationFlag, sr.PreliminaryFlag) == ("PARTIAL", "UNVERIFIED", "PRELIMINARY")
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == study.series.series_instance_uid
    assert {i.ReferencedSOPInstanceUID for i in series.ReferencedSOPSequence} == \
        {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in paths}
    ds = pydicom.dcmread(result.path)
    assert ds.ConceptNameCodeSequence[0].CodeValue == "18748-4"
    assert _findings(ds) == {"Lung": "Nodule of 8 mm in the right upper lobe. No effusion.",
                             "mediastinum and heart": "Heart size is normal."}  # bone has no sentence
    comment = next(i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121106")
    assert comment.TextValue == content.disclaimer and "\u2014" in comment.TextValue  # UTF-8 kept
    observer = {i.ConceptNameCodeSequence[0].CodeMeaning: i for i in ds.ContentSequence
                if i.RelationshipType == "HAS OBS CONTEXT"}
    assert observer["Observer Type"].ConceptCodeSequence[0].CodeMeaning == "Device"
    assert observer["Device Observer Name"].TextValue == "demo"


def test_sr_from_a_draft_finds_the_series_by_geometry(tmp_path, dicom_study):
    study = dicom_study[0]
    content = ReportContent.from_draft(make_draft(study))  # no UIDs in a draft
    sr = hd.sr.srread(write_dicom_sr(content, tmp_path / "sr.dcm").path)
    assert sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].SeriesInstanceUID == \
        study.series.series_instance_uid
    assert _findings(pydicom.dcmread(tmp_path / "sr.dcm"))["Bone"] == "No abnormality found in bone."


def test_non_dicom_study_is_refused(tmp_path, phantom_nifti, content):
    nifti = ReportContent(study=study_info(read_study(phantom_nifti)), model=content.model,
                          structures=content.structures)
    with pytest.raises(ExportError, match="this study was read from nifti"):
        write_dicom_sr(nifti, tmp_path / "sr.dcm")
    empty = ReportContent(study=content.study, model=content.model, structures=[])
    with pytest.raises(ExportError, match="no sentences"):
        write_dicom_sr(empty, tmp_path / "sr.dcm")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_real_demo_series_with_empty_uids(tmp_path, demo_study, content):
    study = read_study(demo_study.dicom_dir)
    real = ReportContent(study=study_info(study), model=content.model, structures=content.structures)
    result = write_dicom_sr(real, tmp_path / "sr.dcm")
    assert any("derived UIDs" in w for w in result.warnings)
    sr = hd.sr.srread(result.path)
    referenced = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence
    meta_uids = {pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID
                 for f in demo_study.dicom_dir.iterdir()}
    assert {i.ReferencedSOPInstanceUID for i in referenced} == meta_uids
    assert sr.StudyInstanceUID  # derived, deterministic: the SEG of the same series gets the same
    again = write_dicom_sr(real, tmp_path / "sr2.dcm")
    assert hd.sr.srread(again.path).StudyInstanceUID == sr.StudyInstanceUID
