"""The study's source path (its folders often hold the patient's name or ID) is cut to the file
name in the JSON export without identifiers and in ``ctrg generate``'s draft by default."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from ctrg_desktop.cli import main
from ctrg_desktop.export import ReportContent, report_json, study_info, write_json
from ctrg_desktop.export.content import source_name


def test_json_without_identifiers_keeps_only_the_file_name(dicom_study, tmp_path):
    study, folder, _ = dicom_study
    content = ReportContent(study=study_info(study), model={"name": "demo"}, structures=[])
    assert content.study["source"] == str(folder)
    data = json.loads(write_json(content, tmp_path / "report.json").path.read_text())
    assert data["study"]["source"] == folder.name == "series"
    assert str(folder.parent) not in json.dumps(data)
    assert report_json(content, identifiers=True)["study"]["source"] == str(folder)


@pytest.mark.parametrize("path, name", [("/home/x/Doe_Jane_MRN123/ct.nii.gz", "ct.nii.gz"),
                                        ("C:\\Studies\\Doe Jane\\series\\", "series"), ("ct.nrrd", "ct.nrrd"),
                                        ("", ""), (None, "")])
def test_source_name(path, name):
    assert source_name(path) == name


def test_a_draft_naming_only_the_file_still_exports_from_the_open_study(dicom_study):
    """DICOM exports re-read the open study's files: its own path wins over the draft's file name."""
    study, folder, _ = dicom_study
    from tests.export.conftest import make_draft

    draft = make_draft(study)
    draft.study["source"] = folder.name
    content = ReportContent.from_draft(draft, study)
    assert content.study["source"] == str(folder)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from ctrg_desktop.model import ModelConfig, StructureReportModel, load_tokenizer

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("zoo") / "tiny"
    StructureReportModel(ModelConfig.tiny(), tokenizer=load_tokenizer("minilm")).save_pretrained(folder)
    return folder


def test_generate_writes_the_file_name_unless_asked(tiny_model, phantom_nifti, tmp_path, capsys):
    private = tmp_path / "Doe_Jane_MRN-88812345"
    private.mkdir()
    study = private / "chest.nii.gz"
    shutil.copy(phantom_nifti, study)
    args = ["generate", str(study), "--model", str(tiny_model), "--device", "cpu", "--num-beams", "1",
            "--max-length", "8", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a.json")]) == 0
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text)["study"]["source"] == "chest.nii.gz" and "Doe_Jane" not in text and "88812345" not in text
    assert main([*args, "--out", str(tmp_path / "b.json"), "--keep-source-path"]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["study"]["source"] == str(study)
