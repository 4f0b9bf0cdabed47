"""De-identification: an accepted record of a study carrying PHI holds none of it, and the scanner finds planted PHI."""

import gzip
import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from ctrg_desktop.corrections import CorrectionsDataset, find_phi, phi_strings
from ctrg_desktop.data.ctrate import CTRateDataset
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.reports.document import ReportDocument
from tests.corrections.conftest import PHI_VALUES
from tests.corrections.drafts import make_draft


def _all_bytes(folder):
    """Every file under ``folder`` (gzip members decompressed) and every path, as one lower-case blob."""
    blobs = []
    for path in folder.rglob("*"):
        blobs.append(str(path.relative_to(folder)).encode())
        if path.is_file():
            data = path.read_bytes()
            blobs.append(gzip.decompress(data) if path.name.endswith(".gz") else data)
    return b"\n".join(blobs).lower()


@pytest.fixture(scope="module")
def accepted(tmp_path_factory, phi_volume, phantom_study):
    root = tmp_path_factory.mktemp("corrections")
    dataset = CorrectionsDataset(root)
    doc = ReportDocument.from_draft(make_draft())
    lung = doc.structure("lung").sentences
    doc.edit_text(lung[1].id, "It measures 7 mm in diameter.")
    doc.add_sentence("thyroid", "Thyroid gland is normal.")
    doc.set_keywords("lung", doc.keywords("lung") + ["nodule"])
    labels = phantom_study.label_map  # fine labels: 3, 4 lungs, 7..13 heart and mediastinum
    masks = {"lung": np.isin(labels, [3, 4, 7]),  # overlaps the heart on purpose
             "mediastinum and heart": np.isin(labels, range(7, 14))}
    record_id = dataset.accept(doc, phi_volume, masks=masks)
    return dataset, record_id, doc, masks


def test_the_study_carries_phi(phi_volume):
    strings = phi_strings(phi_volume)
    assert {"patient_name", "patient_id", "birth_date", "accession_number", "institution", "referring_physician",
            "study_instance_uid", "series_instance_uid", "source_path"} <= set(strings)
    assert "Testpatient" in strings["patient_name"] and "1960-02-29" in strings["birth_date"]


def test_accepted_record_holds_no_phi(accepted, phi_volume):
    dataset, record_id, _, _ = accepted
    folder = dataset.record_dir(record_id)
    assert find_phi(folder, phi_volume) == []
    assert find_phi(dataset.root, phi_volume) == []  # the index files, segmentations and dataset.json too
    blob = _all_bytes(dataset.root)
    for value in PHI_VALUES:
        assert value.lower().encode() not in blob, value
    record = dataset.read_record(record_id)
    assert record["model"] == {"name": "demo", "version": "0123456789ab", "config_hash": "ba9876543210",
                               "structure_set": "chest_ct", "tokenizer": "minilm"}  # no local folder path
    assert record["patient"] in record_id and record["study"] in record_id


def test_the_record_reads_back_as_ct_rate(accepted, phi_volume):
    dataset, record_id, doc, masks = accepted
    [rec] = CTRateDataset(dataset.root, split=None)
    assert rec.volume_name == record_id and rec.split == record_id.split("_")[0]
    assert rec.findings == doc.report_text() and "It measures 7 mm in diameter." in rec.findings
    assert "Thyroid gland is normal." in rec.findings
    assert rec.labels["Lung nodule"] == 1 and rec.labels["Pleural effusion"] == 1 and rec.labels["Emphysema"] == 0
    volume = read_study(rec.volume_path)
    np.testing.assert_array_equal(volume.array, phi_volume.array)
    np.testing.assert_allclose(volume.spacing, phi_volume.spacing)
    np.testing.assert_allclose(volume.origin, phi_volume.origin, atol=1e-4)
    assert volume.meta.is_empty()
    labels = read_study(rec.label_map_path).array
    np.testing.assert_array_equal(labels == 3, masks["lung"])  # lung is structure 2 -> value 3
    np.testing.assert_array_equal(labels == 2, masks["mediastinum and heart"] & ~masks["lung"])
    info = json.loads((dataset.root / "dataset.json").read_text())
    assert info["label_legend"]["3"] == {"name": "lung", "structure": "lung"} and info["count"] == 1
    record = dataset.read_record(record_id)
    assert record["keywords"]["changes"] == {"lung": {"added": ["nodule"], "removed": []}}
    lung = next(s for s in record["report"]["structures"] if s["name"] == "lung")
    assert lung["sentences"][1]["draft_text"] == "It measures 6 mm in diameter."
    assert record["draft"]["report"] == doc.draft_text
    assert record["diff"]["structures"][2]["changed"] == [["It measures 6 mm in diameter.",
                                                           "It measures 7 mm in diameter."]]
    assert [m["structure"] for m in record["masks"]] == ["mediastinum and heart", "lung"]
    mask = read_study(dataset.record_dir(record_id) / record["masks"][1]["file"]).array
    np.testing.assert_array_equal(mask.astype(bool), masks["lung"])


def test_a_report_naming_the_patient_is_refused(accepted, phi_volume):
    dataset, record_id, _, _ = accepted
    doc = ReportDocument.from_draft(make_draft())
    doc.add_sentence("others", "Compared with the prior study of Jane Testpatient.")
    with pytest.raises(CtrgError, match="patient name"):
        dataset.accept(doc, phi_volume)
    assert dataset.record_ids() == [record_id]
    assert not any((dataset.root / ".incoming").iterdir())


def test_the_scanner_finds_planted_phi(accepted, phi_volume, tmp_path):
    dataset, record_id, _, _ = accepted
    copy = tmp_path / "record"
    shutil.copytree(dataset.record_dir(record_id), copy)
    record = json.loads((copy / "record.json").read_text())
    record["note"] = "accession acc98765"  # case-insensitive
    (copy / "record.json").write_text(json.dumps(record))
    image = sitk.GetImageFromArray(np.zeros((4, 4, 4), np.int16))
    image.SetMetaData("ITK_FileNotes", "PID-4711-XYZ")  # NIfTI descrip
    sitk.WriteImage(image, str(copy / "extra.nii.gz"), useCompression=True)
    (copy / "Testpatient.txt").write_text("x")
    hits = {(str(h.file), h.field) for h in find_phi(copy, phi_volume)}
    assert ("record.json", "accession_number") in hits
    assert ("extra.nii.gz", "patient_id") in hits
    assert ("Testpatient.txt", "patient_name (in the file name)") in hits
    assert all("4711" not in str(h) and "Testpatient" not in h.field for h in find_phi(copy, phi_volume))


# ------------------------------------------------------------------ loose matching (hardening)

def _study_with(**meta):
    from types import SimpleNamespace

    from ctrg_desktop.io.volume import SeriesInfo, StudyMeta

    return SimpleNamespace(meta=StudyMeta(**meta), series=SeriesInfo())


HARDENING_META = dict(patient_name="Okafor^Li", patient_id="MRN-88812345", study_date="20230917",
                      accession_number="ACC-771122", institution="Quarrington General Hospital")


@pytest.mark.parametrize("text, field", [
    ("Compared with the study of 2023-09-17.", "study_date"),
    ("Compared with the study of 17/09/2023.", "study_date"),
    ("Compared with the study of 17.09.2023.", "study_date"),
    ("Compared with the study of Sep 17, 2023.", "study_date"),
    ("Compared with the study of September 17, 2023.", "study_date"),
    ("Compared with the study of 17 Sep 2023.", "study_date"),
    ("Compared with the study of 20230917.", "study_date"),
    ("Compared with the study of 17th September 2023.", "study_date"),
    ("Discussed, MRN 88812345.", "patient_id"),
    ("Discussed, mrn88812345.", "patient_id"),
    ("Accession 771122.", "accession_number"),
    ("Seen at Quarrington.", "institution"),
    ("Mrs Okafor was informed.", "patient_name"),
    ("Li was informed.", "patient_name"),
])
def test_identifiers_written_otherwise_are_found(tmp_path, text, field):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"findings": text}))
    assert field in {h.field for h in find_phi(path, _study_with(**HARDENING_META))}


@pytest.mark.parametrize("text", [
    "Small nodule in the left lower lobe. General hospital follow-up advised.",
    "Nodule of 17 mm, previously 2023 mm3 in volume.",
    "Compared with the study of 2023-09-18.",
    "Measures 88812 mm.",
    "The liver is normal. No lymph nodes.",
])
def test_common_words_and_other_numbers_are_not_identifiers(tmp_path, text):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"findings": text}))
    assert find_phi(path, _study_with(**HARDENING_META)) == []


def test_a_report_with_the_study_date_or_institution_is_refused(accepted, phi_volume):
    """The study date as written in reports (20240115 in DICOM) and the institution's short name."""
    dataset, record_id, _, _ = accepted
    for sentence, field in (("Compared with the prior of Jan 15, 2024.", "study date"),
                            ("Compared with the prior of 15/01/2024.", "study date"),
                            ("Prior CT at Example.", "institution"),
                            ("Accession 98765 reviewed.", "accession number"),
                            ("Patient ID pid 4711 xyz.", "patient id")):
        doc = ReportDocument.from_draft(make_draft())
        doc.add_sentence("others", sentence)
        with pytest.raises(CtrgError, match=f"not accepted: the record would contain the study's .*{field}"):
            dataset.accept(doc, phi_volume)
    assert dataset.record_ids() == [record_id]
