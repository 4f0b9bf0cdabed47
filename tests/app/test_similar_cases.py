"""The "Similar cases" dock: a real small reference index of phantom studies beside the demo
model (in a temporary zoo), queried with the demo model's real draft of the shared phantom study.

The index: 8 phantom studies of 4 patients (their reports, labeller statuses, key-slice
thumbnails of their CT), logits that follow the reports' statuses, and a retriever trained on
them with :func:`ctrg_desktop.retrieval.retriever.train_retriever`. Run under xvfb-run."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS

SEEDS = tuple(range(101, 109))
DEMO_FILES = ("config.json", "model.safetensors", "observation_guide.json", "card.md")


@functools.lru_cache(maxsize=1)
def _reference_table() -> dict:
    """Reports, statuses, logits (R, 18), thumbnails (R, 64, 64) of 8 phantoms; a trained retriever."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_study
    from ctrg_desktop.model.zoo import load_model
    from ctrg_desktop.retrieval.build import model_id
    from ctrg_desktop.retrieval.retriever import RetrieverConfig, train_retriever
    from ctrg_desktop.retrieval.status import one_hot, statuses_of
    from ctrg_desktop.retrieval.thumbnail import thumbnail

    studies = [generate_study(seed, PhantomConfig(shape=(32, 48, 48), spacing=(8.0, 6.0, 6.0))) for seed in SEEDS]
    reports = [s.findings for s in studies]
    statuses = statuses_of(reports)
    rng = np.random.default_rng(0)
    logits = (np.where(statuses == 3, 3.0, np.where(statuses == 2, 0.0, -3.0))
              + rng.normal(0.0, 0.3, statuses.shape)).astype(np.float32)
    thumbs = np.stack([thumbnail(s.volume.array[s.volume.shape[0] // 2]) for s in studies])
    patients = [f"train_{i // 2}" for i in range(len(SEEDS))]
    projection, _ = train_retriever(logits, one_hot(statuses), patients,
                                    RetrieverConfig(hidden=32, dim=8, steps=40, batch=64, eval_every=0))
    return {"names": [f"{p}_a_{i % 2 + 1}" for i, p in enumerate(patients)], "patients": patients,
            "reports": reports, "statuses": statuses, "logits": logits, "thumbs": thumbs,
            "projection": projection, "model_id": model_id(load_model("demo"))}


@pytest.fixture
def demo_zoo(tmp_path, monkeypatch, private_folders):
    """A zoo whose "demo" is the real demo model (linked files) with the small index beside it;
    returns (the index, its path)."""
    from ctrg_desktop.resources import model_zoo_dir
    from ctrg_desktop.retrieval.index import INDEX_NAME, ReferenceIndex

    table = _reference_table()
    folder = tmp_path / "zoo" / "demo"
    folder.mkdir(parents=True)
    for name in DEMO_FILES:
        if (model_zoo_dir() / "demo" / name).is_file():
            os.symlink(model_zoo_dir() / "demo" / name, folder / name)
    index = ReferenceIndex(table["projection"], table["model_id"], table["names"], table["patients"],
                           ["train"] * 6 + ["valid"] * 2, table["reports"], table["logits"], table["statuses"],
                           table["thumbs"], model_name="demo")
    path = index.save(folder / INDEX_NAME)
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(tmp_path / "zoo"))
    return ReferenceIndex.load(path), path


def _expected(index, draft):
    from ctrg_desktop.app.similar.lookup import draft_logits

    return [n.name for n in index.query(draft_logits(draft.observations), k=3)]


def _check_cards(window, index, draft):
    """Three cases, nearest first, the index's top 3; every card's chips follow the two reports."""
    from ctrg_desktop.retrieval.status import report_statuses

    similar = window.similar
    assert [n.name for n in similar.neighbours] == _expected(index, draft)
    cards = similar.panel.cards
    assert len(cards) == 3 and [c.neighbour.name for c in cards] == _expected(index, draft)
    distances = [c.neighbour.distance for c in cards]
    assert distances == sorted(distances) and all(np.isfinite(distances))
    current = report_statuses(similar.current_text())
    for card in cards:
        theirs = np.asarray(card.neighbour.statuses)
        stated = [label for label, a, b in zip(CT_RATE_LABELS, current, theirs) if a or b]
        widgets = card.chip_row.labels()
        assert stated and sorted(w.text()[2:] for w in widgets) == sorted(stated)
        for chip, widget in zip(card.chip_row.chips, widgets):
            i = CT_RATE_LABELS.index(chip.label)
            assert (chip.current, chip.reference) == (current[i], theirs[i])
            assert chip.agrees == ((current[i] >= 2) == (theirs[i] >= 2))
            assert widget.property("agrees") == chip.agrees
            assert ("agrees with" if chip.agrees else "disagrees with") in widget.toolTip()
        assert card.thumbnail.pixmap().width() == 128
        assert card.sentences.count() >= 3


def test_similar_cases_of_a_drafted_study_insert_and_undo(window, study, demo_zoo, qtbot):
    from PySide6 import QtCore

    from ctrg_desktop.reports.parser import match_structures

    index, _ = demo_zoo
    assert window.open_study(study.folder), window.last_error
    window.drafting.show_draft(study.draft)  # what a finished draft does
    window.similar.show_dock()
    assert window.docks["Similar cases"].isVisible()
    _check_cards(window, index, study.draft)
    assert "nearest to this draft among 8" in window.similar.panel.message.text()

    document = window.editing.document
    before = document.report_text()
    card = window.similar.panel.cards[0]
    assert not card.insert_button.isEnabled()  # nothing selected yet
    row = next(r for r in range(card.sentences.count()) if card.sentences.item(r).text() not in before)
    sentence = card.sentences.item(row).text()
    card.select_sentence(row)
    assert card.insert_button.isEnabled()
    revision = document.revision
    qtbot.mouseClick(card.insert_button, QtCore.Qt.MouseButton.LeftButton)
    assert document.revision == revision + 1  # one edit
    assert sentence in document.report_text() and document.report_text() != before
    hits = match_structures(sentence, document.structure_set) or [document.structure_set.others_index]
    assert [s.origin for s in document.structures[hits[0]].sentences if s.text == sentence] == ["user"]
    _check_cards(window, index, study.draft)  # the chips follow the edited report

    dialog = window.similar.show_diff(card.neighbour)
    assert card.neighbour.name in dialog.text() and "only in the case" in dialog.text()
    assert f"current: {sentence}" not in dialog.text()  # the inserted sentence is in both now
    dialog.close()

    assert window.editing.undo_action.isEnabled()
    window.editing.undo_action.trigger()  # Edit > Undo (Ctrl+Z)
    assert document.report_text() == before and document.revision == revision + 2
    assert not any(s.text == sentence for sec in document.structures for s in sec.sentences)
    _check_cards(window, index, study.draft)


def test_review_only_mode_shows_the_cases_and_problems_in_one_line(window, study, demo_zoo):
    from tests.app.editing_support import open_with_draft

    index, path = demo_zoo
    shown = []
    window.similar.cases_shown.connect(shown.append)
    open_with_draft(window, study)  # a saved draft opened for review: no model anywhere
    assert len(shown[-1]) == 3
    _check_cards(window, index, study.draft)
    assert all(card.can_insert for card in window.similar.panel.cards)
    errors = window.last_error

    path.write_bytes(b"not an index")  # damaged: one readable line, no cases, no error box
    assert window.similar.refresh() == []
    message = window.similar.panel.message.text()
    assert "cannot be used" in message and "\n" not in message and not window.similar.panel.cards
    path.unlink()  # none: which command builds one
    assert window.similar.refresh() == []
    assert "ctrg retrieval index" in window.similar.panel.message.text()
    assert window.last_error == errors


def test_draft_logits_and_chips():
    from ctrg_desktop.app.similar.chips import label_chips
    from ctrg_desktop.app.similar.lookup import IndexUnavailable, draft_logits, study_patient

    p = np.linspace(0.0, 1.0, 18)
    x = draft_logits([{"label": label, "probability": v} for label, v in zip(CT_RATE_LABELS, p)])
    assert x.shape == (18,) and x[0] == -9.0 and x[-1] == 9.0
    assert np.allclose(x[1:-1], np.log(p[1:-1] / (1 - p[1:-1])), atol=1e-5)
    with pytest.raises(IndexUnavailable, match="no observation probabilities"):
        draft_logits([])
    assert study_patient({"source": "/data/valid/valid_12/valid_12_a/valid_12_a_1.nii.gz"}) == "valid_12"
    assert study_patient({"source": "/tmp/chest.nii.gz"}) == ""
    current, case = np.zeros(18, int), np.zeros(18, int)
    current[[2, 12]], case[[2, 7, 12]] = (3, 1), (2, 3, 0)  # cardiomegaly both; emphysema only the case
    chips = label_chips(current, case)
    assert [(c.label, c.agrees) for c in chips] == [("Emphysema", False), ("Cardiomegaly", True),
                                                    ("Pleural effusion", True)]
    assert "current report does not mention it; the case states it" in chips[0].tooltip
    with pytest.raises(ValueError):
        label_chips(current[:5], case)


def test_accept_adds_the_corrected_report_to_the_similar_cases(window, study, demo_zoo, qtbot):
    """Report > Accept: the final report joins the drafting model's similar cases (the user's file),
    with the draft's logits and a key slice of the study; the index file itself is unchanged."""
    from ctrg_desktop.app.similar.lookup import draft_logits
    from ctrg_desktop.retrieval.index import ReferenceIndex
    from tests.app.helpers import until_signal

    index, path = demo_zoo
    before = path.read_bytes()
    assert window.open_study(study.folder), window.last_error
    window.drafting.show_draft(study.draft)
    editing = window.editing
    editing.add_sentence("pleura", "Minimal pleural thickening at the right base.")
    outcome = until_signal(qtbot, editing.acceptor.finished, editing.acceptor.accept)[0]
    assert outcome.ok, outcome.error
    assert outcome.similar == "added to the similar cases of demo"
    assert "Added to the similar cases of demo." in editing.acceptor.confirm_box.text()
    editing.acceptor.confirm_box.close()

    merged = ReferenceIndex.load(path)
    assert len(merged) == len(index) + 1 and path.read_bytes() == before
    row = merged.names.index(outcome.record_id)
    assert merged.sources[row] == "correction" and merged.patients[row] == ""
    assert merged.reports[row] == editing.document.report_text()
    np.testing.assert_allclose(merged.logits[row], draft_logits(study.draft.observations), atol=1e-5)
    assert merged.thumbnails[row].std() > 0  # a real slice of the study
    found = merged.query(draft_logits(study.draft.observations), k=len(merged))
    assert found[0].name == outcome.record_id and found[0].distance < min(0.05, found[1].distance)
