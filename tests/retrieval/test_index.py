"""ReferenceIndex: round trip, exact query order, exclusion, crash-safe corrections, model check."""

import os

import numpy as np
import pytest

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.retrieval import hyperbolic
from ctrg_desktop.retrieval.arrays_file import ArraysFileError
from ctrg_desktop.retrieval.index import IndexMismatchError, ReferenceIndex, corrections_path

from .conftest import make_projection


def test_round_trip_keeps_everything(small_index, tmp_path):
    path = small_index.save(tmp_path / "reference_index.npz")
    loaded = ReferenceIndex.load(path, model_id="ab" * 32, user_dir=tmp_path / "user")
    assert loaded.names == small_index.names and loaded.patients == small_index.patients
    assert loaded.sources == small_index.sources and loaded.reports == small_index.reports
    assert np.array_equal(loaded.statuses, small_index.statuses)
    assert np.array_equal(loaded.thumbnails, small_index.thumbnails)
    assert np.allclose(loaded.embeddings, small_index.embeddings)
    assert loaded.projection.kind == "poincare" and loaded.model_name == "tiny"
    q = np.linspace(-2, 2, 18)
    assert [n.name for n in loaded.query(q, k=8)] == [n.name for n in small_index.query(q, k=8)]


def test_query_order_is_the_exact_distance_order(small_index):
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(3, 18)) * 2
    batches = small_index.query(logits, k=5)
    proj = small_index.projection
    for row, found in zip(logits, batches):
        truth = hyperbolic.distance(proj.embed(row)[None], small_index.embeddings, proj.curvature)
        order = np.argsort(truth, kind="stable")[:5]
        assert [n.name for n in found] == [small_index.names[j] for j in order]
        assert [n.distance for n in found] == pytest.approx(truth[order], rel=1e-4, abs=1e-5)
        assert found[0].thumbnail.shape == (64, 64) and len(found[0].statuses) == 18
    # a reference's own logits find it first, at distance ~0
    own = small_index.query(small_index.logits[3], k=1)[0]
    assert own.name == small_index.names[3] and own.distance == pytest.approx(0.0, abs=1e-3)


def test_exclusion_of_the_same_patient(small_index):
    own = small_index.query(small_index.logits[3], k=8, exclude_patients=["train_1"])
    assert len(own) == 6 and all(n.patient != "train_1" for n in own)
    assert len(small_index.query(small_index.logits[3], k=8, exclude_patients="train_1")) == 6
    everyone = [f"train_{i}" for i in range(4)]
    assert small_index.query(small_index.logits[3], k=3, exclude_patients=everyone) == []
    with pytest.raises(ValueError, match=r"\(18,\)"):
        small_index.query(np.zeros(17))


def test_cosine_variant_orders_by_one_minus_cos(tmp_path):
    proj = make_projection("cosine", dim=5)
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(6, 18))
    index = ReferenceIndex(proj, "cd" * 32, [f"r{i}" for i in range(6)], [f"p{i}" for i in range(6)], ["train"] * 6,
                           ["x"] * 6, logits, np.zeros((6, 18)))
    q = rng.normal(size=18)
    e, r = proj.embed(q), proj.embed(logits)
    assert np.allclose(np.linalg.norm(r, axis=1), 1, atol=1e-5)
    truth = 1 - r @ e
    assert [n.name for n in index.query(q, k=6)] == [f"r{j}" for j in np.argsort(truth)]


def test_model_id_mismatch_is_refused_with_a_clear_message(small_index, tmp_path):
    path = small_index.save(tmp_path / "reference_index.npz")
    with pytest.raises(IndexMismatchError, match="built with model abababababab .*rebuild it"):
        ReferenceIndex.load(path, model_id="ef" * 32)
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ArraysFileError, match="torn or not"):
        ReferenceIndex.load(tmp_path / "bad.npz")


def test_corrections_are_merged_deidentified_and_replaced_by_record_id(small_index, tmp_path):
    path = small_index.save(tmp_path / "reference_index.npz")
    user = tmp_path / "user"
    index = ReferenceIndex.load(path, user_dir=user)
    logits = np.full(18, 3.0)
    written = index.add_correction("rec-001", "Cardiomegaly is seen.", logits, np.full((64, 64), 7))
    assert written == corrections_path("ab" * 32, user) and oct(os.stat(written).st_mode)[-3:] == "600"
    top = index.query(logits, k=1)[0]
    assert (top.name, top.source, top.patient, top.distance) == ("rec-001", "correction", "", pytest.approx(0, abs=1e-3))
    assert top.statuses[2] == 3 and top.thumbnail[0, 0] == 7
    index.add_correction("rec-001", "Pleural effusion is seen.", logits)  # the record's new text replaces it
    again = ReferenceIndex.load(path, user_dir=user)
    assert len(again) == 9 and again.query(logits, k=1)[0].report == "Pleural effusion is seen."
    # the main file is unchanged: loading without corrections gives the 8 references
    assert len(ReferenceIndex.load(path, corrections=False)) == 8


def test_a_report_with_the_patients_identifiers_is_refused(small_index, tmp_path):
    from ctrg_desktop.io.volume import StudyMeta, Volume

    volume = Volume(np.zeros((2, 2, 2), np.int16), (1.0, 1.0, 1.0), meta=StudyMeta(patient_name="Quarrington^Alice"))
    small_index.user_file = tmp_path / "c.npz"
    with pytest.raises(CtrgError, match="patient name"):
        small_index.add_correction("rec-9", "Alice Quarrington has cardiomegaly.", np.zeros(18), volume=volume)
    assert not (tmp_path / "c.npz").exists()
    small_index.add_correction("rec-9", "Cardiomegaly.", np.zeros(18), volume=volume)
    assert (tmp_path / "c.npz").exists()


def test_crash_mid_write_keeps_the_old_corrections(small_index, tmp_path, monkeypatch):
    import ctrg_desktop.atomic as atomic

    path = small_index.save(tmp_path / "reference_index.npz")
    user = tmp_path / "user"
    index = ReferenceIndex.load(path, user_dir=user)
    index.add_correction("rec-1", "Cardiomegaly is seen.", np.ones(18))
    before = index.user_file.read_bytes()

    def crash(fd):  # the temp file is written, then the machine "dies" before the rename
        raise OSError("power lost")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError, match="power lost"):
        index.add_correction("rec-2", "Emphysema is seen.", np.zeros(18))
    monkeypatch.undo()
    assert index.user_file.read_bytes() == before
    assert not [p for p in user.iterdir() if p.name.endswith(".tmp")]
    assert [n.name for n in ReferenceIndex.load(path, user_dir=user).query(np.ones(18), k=9)
            if n.source == "correction"] == ["rec-1"]


def test_a_torn_corrections_file_is_ignored_with_a_warning(small_index, tmp_path):
    path = small_index.save(tmp_path / "reference_index.npz")
    user = tmp_path / "user"
    index = ReferenceIndex.load(path, user_dir=user)
    index.add_correction("rec-1", "Cardiomegaly is seen.", np.ones(18))
    index.add_correction("rec-2", "Emphysema is seen.", np.zeros(18))
    data = index.user_file.read_bytes()
    index.user_file.write_bytes(data[: len(data) // 2])  # a torn file (written without atomic_write)
    with pytest.warns(RuntimeWarning, match="ignoring the accepted corrections"):
        torn = ReferenceIndex.load(path, user_dir=user)
    assert len(torn) == 8 and len(torn.query(np.ones(18), k=3)) == 3
    with pytest.warns(RuntimeWarning):
        torn.add_correction("rec-3", "Emphysema is seen.", np.zeros(18))  # the torn file is moved aside
    assert (user / (index.user_file.name + ".torn")).exists()
    assert [n.name for n in ReferenceIndex.load(path, user_dir=user).query(np.zeros(18), k=9)
            if n.source == "correction"] == ["rec-3"]


def test_a_drafts_rounded_probabilities_find_the_same_neighbours_as_its_logits(small_index):
    from ctrg_desktop.retrieval.projection import logits_from_probabilities

    logits = np.random.default_rng(3).normal(size=18) * 2
    probs = np.round(1 / (1 + np.exp(-logits)), 4)
    assert logits_from_probabilities([0.5, 0.880797])[1] == pytest.approx(2.0, abs=1e-4)  # logit(0.8808) = 2
    assert [n.name for n in small_index.query(logits_from_probabilities(probs), k=4)] == \
        [n.name for n in small_index.query(logits, k=4)]
