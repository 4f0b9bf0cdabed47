"""The CT-RATE layout: the phantom dataset writer and the reader (which also reads real CT-RATE)."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import SimpleITK as sitk

from ctrg_desktop.data.ctrate import (REPORT_COLUMNS, CTRateDataset, LayoutRow, label_legend, volume_relpath,
                                      write_dataset_info, write_tables)
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset, generate_study
from ctrg_desktop.data.phantoms.dataset import study_seed
from ctrg_desktop.io.sitk_bridge import write_volume
from ctrg_desktop.io.volume import Volume

TINY = PhantomConfig(shape=(32, 48, 48), spacing=(9.0, 6.7, 6.7))
NAMES = ["train_1_a_1", "train_2_a_1", "train_3_a_1", "valid_1_a_1", "test_1_a_1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    calls = []
    root = generate_dataset(tmp_path_factory.mktemp("ds") / "out", count=5, seed=3, config=TINY,
                            split=(0.6, 0.2, 0.2), workers=1, progress=lambda d, t: calls.append((d, t)))
    return root, calls


def _csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _array(path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_layout_tables_and_splits(dataset):
    root, calls = dataset
    assert calls == [(n, 5) for n in range(1, 6)]
    meta = json.loads((root / "dataset.json").read_text())
    assert meta["count"] == 5 and meta["seed"] == 3 and meta["split"] == {"train": 3, "valid": 1, "test": 1}
    assert meta["labels"] == list(CT_RATE_LABELS) and meta["config"]["shape"] == [32, 48, 48]
    assert meta["label_legend"]["3"] == {"name": "right lung", "structure": "lung"}
    for name in NAMES:
        split, pid = name.split("_")[:2]
        assert (root / split / f"{split}_{pid}" / f"{split}_{pid}_a" / f"{name}.nii.gz").is_file()
        assert (root / "segmentations" / f"{name}_labels.nii.gz").is_file()
    assert [r["VolumeName"] for r in _csv(root / "splits.csv")] == NAMES
    assert [r["split"] for r in _csv(root / "splits.csv")] == ["train"] * 3 + ["valid", "test"]
    for file, names in (("train_reports.csv", NAMES[:3]), ("validation_reports.csv", NAMES[3:4]),
                        ("test_reports.csv", NAMES[4:])):
        with open(root / "radiology_text_reports" / file, newline="") as f:
            assert tuple(next(csv.reader(f))) == REPORT_COLUMNS
        assert [r["VolumeName"] for r in _csv(root / "radiology_text_reports" / file)] == names
    for split in ("train", "valid", "test"):
        rows = _csv(root / "multi_abnormality_labels" / f"{split}_predicted_labels.csv")
        assert rows and list(rows[0]) == ["VolumeName", *CT_RATE_LABELS]
        assert all(r[k] in ("0", "1") for r in rows for k in CT_RATE_LABELS)
    details = [json.loads(line) for line in (root / "phantom_details.jsonl").read_text().splitlines()]
    assert [d["VolumeName"] for d in details] == NAMES and all("bbox" in x for d in details for x in d["details"])


def test_files_hold_the_generated_studies(dataset):
    root, _ = dataset
    reports = {r["VolumeName"]: r for f in (root / "radiology_text_reports").glob("*.csv") for r in _csv(f)}
    for index, name in enumerate(NAMES):
        study = generate_study(study_seed(3, index), TINY)
        split, pid = name.split("_")[:2]
        volume = root / split / f"{split}_{pid}" / f"{split}_{pid}_a" / f"{name}.nii.gz"
        assert np.array_equal(_array(volume), study.volume.array)
        assert np.array_equal(_array(root / "segmentations" / f"{name}_labels.nii.gz"), study.label_map)
        assert reports[name]["Findings_EN"] == study.findings
        assert reports[name]["Impressions_EN"] == study.impressions


def test_reader_reads_the_phantoms_back(dataset):
    root, _ = dataset
    labels = {r["VolumeName"]: {k: int(r[k]) for k in CT_RATE_LABELS}
              for f in (root / "multi_abnormality_labels").glob("*.csv") for r in _csv(f)}
    reports = {r["VolumeName"]: r for f in (root / "radiology_text_reports").glob("*.csv") for r in _csv(f)}
    everything = CTRateDataset(root, split=None)
    assert [r.volume_name for r in everything] == NAMES
    for split, names in (("train", NAMES[:3]), ("valid", NAMES[3:4]), ("validation", NAMES[3:4]), ("test", NAMES[4:])):
        records = CTRateDataset(root, split)
        assert [r.volume_name for r in records] == names
        for r in records:
            assert r.split == names[0].split("_")[0] and r.volume_path.is_file() and r.label_map_path.is_file()
            assert (r.findings, r.impressions) == (reports[r.volume_name]["Findings_EN"],
                                                   reports[r.volume_name]["Impressions_EN"])
            assert r.labels == labels[r.volume_name]


def test_worker_count_does_not_change_the_dataset(tmp_path):
    one = generate_dataset(tmp_path / "one", count=4, seed=9, config=TINY, workers=1)
    two = generate_dataset(tmp_path / "two", count=4, seed=9, config=TINY, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for rel in files:
        if rel.suffix == ".gz":
            assert np.array_equal(_array(one / rel), _array(two / rel)), rel
        else:
            assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_bad_dataset_arguments(tmp_path):
    with pytest.raises(ValueError, match="count"):
        generate_dataset(tmp_path, count=0, seed=1, config=TINY)
    with pytest.raises(ValueError, match="split"):
        generate_dataset(tmp_path, count=2, seed=1, config=TINY, split=(0.5, 0.2, 0.2))


# ---- a hand-made folder with real CT-RATE naming ------------------------------------------

def _write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def _tiny_volume(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_volume(Volume(np.zeros((2, 3, 4), dtype=np.int16), (1.0, 1.0, 1.0)), path)


@pytest.fixture
def ctrate_like(tmp_path):
    """CT-RATE as downloaded: ``dataset/`` inside, validation_reports.csv, no splits.csv."""
    root = tmp_path / "CT-RATE"
    data = root / "dataset"
    header = ("VolumeName", "ClinicalInformation_EN", "Technique_EN", "Findings_EN", "Impressions_EN")
    _write_csv(data / "radiology_text_reports" / "train_reports.csv", header, [
        ("train_1_a_1", "Cough.", "Non-contrast.", "Trachea is open. Heart size increased.", "Cardiomegaly."),
        ("train_1_a_2", "", "", "Same patient, second reconstruction.", "None."),
        ("train_2_a_1", "", "", "Pleural effusion on the right.", "Effusion.")])
    _write_csv(data / "radiology_text_reports" / "validation_reports.csv", header, [
        ("valid_1_a_1", "", "", "Normal study.", "Normal."), ("case7", "", "", "A flat one.", "Flat.")])
    _write_csv(data / "multi_abnormality_labels" / "train_predicted_labels.csv", ("VolumeName", *CT_RATE_LABELS),
               [("train_1_a_1", *[int(k == "Cardiomegaly") for k in CT_RATE_LABELS])])
    for rel in ("train/train_1/train_1_a/train_1_a_1.nii.gz", "train/train_1/train_1_a/train_1_a_2.nii",
                "train/train_2/train_2_a/train_2_a_1.nii.gz", "valid/valid_1/valid_1_a/valid_1_a_1.nii.gz",
                "valid/case7.nii.gz"):
        _tiny_volume(data / rel)
    return root


def test_reader_on_real_ctrate_naming(ctrate_like):
    train = CTRateDataset(ctrate_like)
    assert [r.volume_name for r in train] == ["train_1_a_1", "train_1_a_2", "train_2_a_1"]
    assert train[0].labels["Cardiomegaly"] == 1 and sum(train[0].labels.values()) == 1
    assert train[1].volume_path.name == "train_1_a_2.nii" and train[2].labels == {}
    assert all(r.label_map_path is None for r in train)
    valid = CTRateDataset(ctrate_like, "validation")
    assert [(r.volume_name, r.split) for r in valid] == [("valid_1_a_1", "valid"), ("case7", "valid")]
    assert valid[1].volume_path == ctrate_like / "dataset" / "valid" / "case7.nii.gz"
    assert len(CTRateDataset(ctrate_like, None)) == 5 and len(CTRateDataset(ctrate_like, "test")) == 0


def _one_line_error(match: str, *args, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as info:
        CTRateDataset(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_reader_bad_input(tmp_path, ctrate_like):
    _one_line_error("not a folder", tmp_path / "nowhere")
    _one_line_error("not a CT-RATE layout folder", tmp_path)
    _one_line_error("unknown split", ctrate_like, "holdout")
    data = ctrate_like / "dataset"
    for rel in ("train/train_2/train_2_a/train_2_a_1.nii.gz", "valid/case7.nii.gz"):
        (data / rel).unlink()
    message = _one_line_error("2 volume", ctrate_like, None)
    assert "train_2_a_1" in message and "case7" in message
    assert [r.volume_name for r in CTRateDataset(ctrate_like, None, missing="skip")] == \
        ["train_1_a_1", "train_1_a_2", "valid_1_a_1"]
    _write_csv(data / "splits.csv", ("VolumeName", "split"), [("train_1_a_1", "holdout")])
    _one_line_error("unknown split 'holdout'", ctrate_like, missing="skip")
    (data / "splits.csv").unlink()
    _write_csv(data / "radiology_text_reports" / "test_reports.csv", ("VolumeName", "Findings_EN"), [("x", "y")])
    _one_line_error("missing column\\(s\\) Impressions_EN", ctrate_like, missing="skip")


# ---- the writer: what it writes, the reader gives back ----------------------------------------

def test_written_layout_reads_back_every_column(tmp_path):
    labels = {k: int(k == "Cardiomegaly") for k in CT_RATE_LABELS}
    rows = [LayoutRow("train_1_a_1", "train", "Heart enlarged, \"marked\".", "Cardiomegaly.", "Cough, fever.",
                      "Non-contrast.", labels),
            LayoutRow("valid_2_b_1", "valid", "Line one.\nLine two.", "", "", "", None),
            LayoutRow("case7", "test", "Flat.", "Flat impression.", "", "Contrast.", {"Cardiomegaly": 1})]
    for row in rows:
        _tiny_volume(tmp_path / volume_relpath(row.volume_name, row.split))
    write_tables(tmp_path, rows)
    legend = {"1": {"name": "heart", "structure": "heart"}}
    write_dataset_info(tmp_path, {"label_legend": legend})
    read = CTRateDataset(tmp_path, None)
    # every column back; a row without all 18 labels has no label row (read as no labels)
    assert [r.layout_row() for r in read] == [rows[0], dataclasses.replace(rows[1], labels={}),
                                              dataclasses.replace(rows[2], labels={})]
    assert read[0].volume_path == tmp_path / "train/train_1/train_1_a/train_1_a_1.nii.gz"
    assert read[2].volume_path == tmp_path / "test/case7.nii.gz"
    assert label_legend(tmp_path) == legend
    assert [r["split"] for r in _csv(tmp_path / "splits.csv")] == ["train", "valid", "test"]
    assert (tmp_path / "splits.csv").stat().st_mode & 0o777 == 0o644


def test_writer_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        write_tables(tmp_path, [LayoutRow("train_1_a_1", "holdout", "x")])
    with pytest.raises(ValueError, match="not a CT-RATE volume name"):
        volume_relpath("case7")
    assert not (tmp_path / "splits.csv").exists()
