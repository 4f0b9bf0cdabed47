"""The corrections dataset: pseudonyms, the split rule, append-only records and crashes mid-accept."""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ctrg_desktop.corrections import CorrectionsDataset, split_of
from ctrg_desktop.corrections.dataset import default_corrections_dir
from ctrg_desktop.data.ctrate import CTRateDataset
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.io.volume import StudyMeta
from ctrg_desktop.reports.document import ReportDocument
from tests.corrections.drafts import make_draft

ROOT = Path(__file__).resolve().parents[2]


def _doc(extra: str = "") -> ReportDocument:
    doc = ReportDocument.from_draft(make_draft())
    if extra:
        doc.add_sentence("others", extra)
    return doc


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_split_rule_is_deterministic_and_mostly_train():
    pids = [hashlib.sha256(str(n).encode()).hexdigest()[:10] for n in range(3000)]
    splits = [split_of(p) for p in pids]
    assert splits == [split_of(p) for p in pids]
    share = Counter(splits)
    assert 0.77 < share["train"] / 3000 < 0.83 and 0.08 < share["valid"] / 3000 < 0.12
    assert 0.08 < share["test"] / 3000 < 0.12
    assert {split_of(p, (0.0, 0.0, 1.0)) for p in pids[:50]} == {"test"}
    assert {split_of(p, (1.0, 0.0, 0.0)) for p in pids[:50]} == {"train"}


def test_empty_dataset_is_a_readable_ct_rate_folder(tmp_path, monkeypatch):
    dataset = CorrectionsDataset(tmp_path / "c")
    assert len(dataset) == 0 and dataset.records() == []
    assert len(CTRateDataset(dataset.root, split=None)) == 0
    assert (tmp_path / "c" / ".salt").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("CTRG_DATA_DIR", str(tmp_path / "data"))
    assert default_corrections_dir() == tmp_path / "data" / "corrections"
    with pytest.raises(CtrgError, match="split fractions"):
        CorrectionsDataset(tmp_path / "d", split_fractions=(0.5, 0.6, 0.1))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "dataset.json").write_text('{"format": "something else"}')
    with pytest.raises(CtrgError, match="not a corrections dataset"):
        CorrectionsDataset(tmp_path / "e")


def test_records_are_append_only_and_pseudonymous(tmp_path, phi_volume, phantom_study):
    dataset = CorrectionsDataset(tmp_path / "c")
    first = dataset.accept(_doc(), phi_volume)
    before = _files(dataset.record_dir(first))
    second = dataset.accept(_doc("A second reading."), phi_volume)  # the same study accepted again
    split, pid, scan, _ = first.split("_")
    assert second.split("_")[:2] == [split, pid] and scan.endswith("r1") and second.split("_")[2] == scan[:-1] + "2"
    assert _files(dataset.record_dir(first)) == before  # earlier records never change
    # another study of the same patient: same pseudonym and split, another study token
    other = phantom_study.volume.with_array(phantom_study.volume.array[::-1].copy(),
                                            meta=StudyMeta(patient_id=phi_volume.meta.patient_id,
                                                           patient_name=phi_volume.meta.patient_name,
                                                           birth_date=phi_volume.meta.birth_date,
                                                           study_instance_uid="1.2.3.4.5.6"))
    third = dataset.accept(_doc(), other)
    assert third.split("_")[:2] == [split, pid] and third.split("_")[2][:8] != scan[:8]
    # a study without identifiers (NIfTI) is its own patient, recognised by its voxels
    nifti = read_study(_write_nifti(tmp_path, phantom_study))
    fourth, fifth = dataset.accept(_doc(), nifti), dataset.accept(_doc("Again."), nifti)
    assert fourth.split("_")[1] != pid and fourth.split("_")[1:3] != fifth.split("_")[1:3]
    assert fourth.split("_")[2].endswith("r1") and fifth.split("_")[2].endswith("r2")
    ids = dataset.record_ids()
    assert sorted([first, second, third, fourth, fifth]) == ids and len(dataset) == 5
    # another dataset has another salt: other pseudonyms for the same patient
    assert CorrectionsDataset(tmp_path / "other").accept(_doc(), phi_volume).split("_")[1] != pid
    rows = {r["VolumeName"]: r for r in _csv_rows(dataset.root / "splits.csv")}
    assert set(rows) == set(ids)
    records = CTRateDataset(dataset.root, split=None)
    assert {r.volume_name for r in records} == set(ids)
    assert next(r for r in records if r.volume_name == second).findings.endswith("A second reading.")
    for read in records:  # every column of the tables is the record's
        record = dataset.read_record(read.volume_name)
        assert (read.split, read.findings, read.impressions, read.clinical_information, read.technique) == \
            (record["split"], record["report"]["findings"], record["report"]["impressions"], "", "")
        assert read.labels == record["labels"] and len(read.labels) == 18
        assert read.volume_path == dataset.record_dir(read.volume_name) / f"{read.volume_name}.nii.gz"
    info = json.loads((dataset.root / "dataset.json").read_text())
    assert info["count"] == 5 and sum(info["split"].values()) == 5 and "salt" not in json.dumps(info)


def test_bad_input_is_refused_before_writing(tmp_path, phi_volume):
    dataset = CorrectionsDataset(tmp_path / "c")
    with pytest.raises(CtrgError, match="empty"):
        dataset.accept(ReportDocument.empty(), phi_volume)
    with pytest.raises(CtrgError, match="shape"):
        dataset.accept(_doc(), phi_volume, masks={"lung": np.zeros((2, 2, 2), bool)})
    with pytest.raises(CtrgError, match="no structure"):
        dataset.accept(_doc(), phi_volume, masks={"liver": np.zeros(phi_volume.shape, bool)})
    with pytest.raises(CtrgError, match="Volume"):
        dataset.accept(_doc(), "study.nii.gz")
    with pytest.raises(CtrgError, match="not a structure"):
        dataset.accept(_doc(), phi_volume, keywords={"liver": ["hepatic"]})
    assert len(dataset) == 0
    record = dataset.read_record(dataset.accept(_doc(), phi_volume, keywords={"lung": ["lung", "nodule"]},
                                                model_info={"name": "m", "folder": "/x", "version": "v1"},
                                                impressions="No acute findings.", labels=False))
    lung = next(s for s in record["keywords"]["structures"] if s["name"] == "lung")
    assert lung["keywords"] == ["lung", "nodule"] and record["model"] == {"name": "m", "version": "v1"}
    assert record["labels"] is None and record["report"]["impressions"] == "No acute findings."
    [row] = _csv_rows(dataset.root / "radiology_text_reports" / f"{record['split'].replace('valid', 'validation')}"
                                                                 f"_reports.csv")
    assert row["Impressions_EN"] == "No acute findings."


def _write_nifti(tmp_path: Path, phantom_study) -> Path:
    from ctrg_desktop.io.sitk_bridge import write_volume

    path = tmp_path / "plain.nii.gz"
    if not path.exists():
        write_volume(phantom_study.volume, path)
    return path


CRASH_CHILD = r"""
import os, signal, sys
import ctrg_desktop.corrections.dataset as D
import ctrg_desktop.data.ctrate as layout
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.reports.document import ReportDocument
from tests.corrections.drafts import make_draft

root, study, point = sys.argv[1:4]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "building":            # every file of the record written, not yet renamed into place
    D.find_phi = die
elif point == "renamed":           # the record is in place, the index not yet rewritten
    D.CorrectionsDataset._rebuild_locked = die
elif point == "indexing":          # the first CSV replaced, the second half written to its temp file
    calls = []
    real = layout.atomic_write_text
    def partial(path, text, *args):
        calls.append(path)
        if len(calls) == 2:
            with open(path.parent / f".{path.name}.crash.tmp", "w") as f:
                f.write(text[: len(text) // 2])
            die()
        return real(path, text, *args)
    layout.atomic_write_text = partial
dataset = D.CorrectionsDataset(root)
doc = ReportDocument.from_draft(make_draft())
doc.add_sentence("others", "Written by the crashing process.")
dataset.accept(doc, read_study(study))
print("not killed", flush=True)
"""


@pytest.mark.parametrize("point", ["building", "renamed", "indexing"])
def test_a_crash_mid_accept_never_corrupts_earlier_records(tmp_path, phi_volume, phantom_study, point):
    dataset = CorrectionsDataset(tmp_path / "c")
    first = dataset.accept(_doc("Earlier record."), phi_volume)
    record_files = _files(dataset.record_dir(first))
    study = _write_nifti(tmp_path, phantom_study)
    child = subprocess.run([sys.executable, "-c", CRASH_CHILD, str(dataset.root), str(study), point], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    # the earlier record is untouched and the index files are whole: CT-RATE reads it as before
    assert _files(dataset.record_dir(first)) == record_files
    records = CTRateDataset(dataset.root, split=None)
    earlier = next(r for r in records if r.volume_name == first)
    assert earlier.findings.endswith("Earlier record.")
    for path in (dataset.root / "radiology_text_reports").glob("*_reports.csv"):
        _csv_rows(path)  # parses
    json.loads((dataset.root / "dataset.json").read_text())

    # reopening repairs what the crash left: a complete record is indexed, a half-built one never appears
    reopened = CorrectionsDataset(dataset.root)
    expected = 1 if point == "building" else 2
    assert len(reopened) == expected
    names = {r.volume_name for r in CTRateDataset(dataset.root, split=None)}
    assert len(names) == expected and first in names
    if point != "building":
        crashed = next(r for r in CTRateDataset(dataset.root, split=None) if r.volume_name != first)
        assert crashed.findings.endswith("Written by the crashing process.")
        np.testing.assert_array_equal(read_study(crashed.volume_path).array, phantom_study.volume.array)
    else:
        assert len(list((dataset.root / ".incoming").iterdir())) == 1  # the half-built record, ignored
    assert not list(dataset.root.rglob(".*.crash.tmp"))  # a torn temp file of the index is removed
    third = reopened.accept(_doc("After the crash."), phi_volume)
    assert not any((dataset.root / ".incoming").iterdir())  # leftovers cleared under the lock
    assert len(CTRateDataset(dataset.root, split=None)) == expected + 1 and third in reopened.record_ids()
    assert _files(dataset.record_dir(first)) == record_files


def test_the_index_is_rebuilt_from_the_record_folders(tmp_path, phi_volume):
    dataset = CorrectionsDataset(tmp_path / "c")
    ids = [dataset.accept(_doc(f"Reading {n}."), phi_volume) for n in range(2)]
    split = ids[0].split("_")[0]
    reports = dataset.root / "radiology_text_reports" / ("validation_reports.csv" if split == "valid"
                                                         else f"{split}_reports.csv")
    reports.write_text("VolumeName,Findings_EN,Impressions_EN\n")  # an index lost or edited by hand
    os.remove(dataset.root / "splits.csv")
    info = dataset.rebuild_index()
    assert info["count"] == 2 and [r["VolumeName"] for r in _csv_rows(reports)] == ids
    assert {r.volume_name for r in CTRateDataset(dataset.root, split=None)} == set(ids)
