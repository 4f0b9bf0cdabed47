"""The editable report: operations, undo/redo, listeners, re-routing, diff and the JSON round trip."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.document import ORIGIN_MODEL, ORIGIN_USER, ReportDocument
from tests.corrections.drafts import REPORT, make_draft


@pytest.fixture
def doc():
    return ReportDocument.from_draft(make_draft())


def texts(doc, name):
    return [s.text for s in doc.structure(name).sentences]


def state(doc):
    """Everything but the revision counter (which grows on undo too)."""
    data = doc.to_json()
    return json.dumps({"structures": data["structures"], "keywords": data["structure_set"]}, sort_keys=True)


def test_built_from_the_draft(doc):
    assert doc.names[0] == "trachea and bronchi" and doc.others.name == "others"
    assert [s.index for s in doc.structures] == list(range(10))
    assert doc.structure("lung").colour == "#81c784"
    assert texts(doc, "lung") == ["There is a 6 mm nodule in the right lung upper lobe.",
                                  "It measures 6 mm in diameter.", "Pleural effusion at the lung base."]
    assert texts(doc, "pleura") == ["Pleural effusion at the lung base."]  # routed to both
    assert texts(doc, "others") == ["A catheter is seen."]
    ids = [s.id for sec in doc.structures for s in sec.sentences]
    assert len(ids) == len(set(ids)) == 8
    assert all(s.origin == ORIGIN_MODEL and s.draft_text == s.text and not s.edited
               for sec in doc.structures for s in sec.sentences)
    # structure-set order, a sentence sitting in two structures written once
    assert doc.report_text() == (
        "Trachea and both main bronchi are open. Heart size is normal. There is a 6 mm nodule in the right lung "
        "upper lobe. It measures 6 mm in diameter. Pleural effusion at the lung base. Degenerative changes in "
        "the thoracic spine. A catheter is seen.")
    assert doc.final_text() == doc.report_text()
    assert doc.structure_texts()[3] == "No abnormality found in esophagus."
    assert doc.structure_texts(with_defaults=False)[3] == ""
    assert doc.draft_text == REPORT and doc.model["config_hash"] == "ba9876543210"
    assert not doc.is_modified and not doc.can_undo and doc.revision == 0
    assert not doc.diff().is_changed


def test_empty_document_and_bad_input(doc):
    empty = ReportDocument.empty("chest_ct")
    assert empty.report_text() == "" and len(empty.structures) == 10
    sid = empty.add_sentence("lung", "Clear lungs.")
    assert empty.report_text() == "Clear lungs." and empty.sentence(sid).origin == ORIGIN_USER
    assert empty.diff().structure("lung").added == ["Clear lungs."]
    with pytest.raises(CtrgError, match="empty"):
        doc.add_sentence("lung", "   \n ")
    with pytest.raises(CtrgError, match="no structure 'liver'"):
        doc.add_sentence("liver", "Normal.")
    with pytest.raises(CtrgError, match="no sentence"):
        doc.edit_text("s999", "x")
    with pytest.raises(CtrgError, match="outside"):
        doc.move_sentence(doc.structure("lung").sentences[0].id, 3)
    with pytest.raises(CtrgError, match="keyword"):
        doc.set_keywords("lung", ["lung", "  "])
    with pytest.raises(CtrgError, match="not those of structure set"):
        ReportDocument.from_draft(make_draft(), "brain_ct")
    assert doc.revision == 0 and not doc.can_undo  # failed operations leave no trace


def test_every_operation_undoes_and_redoes_exactly(doc):
    lung = doc.structure("lung").sentences
    snapshots = [state(doc)]
    doc.edit_text(lung[1].id, "It measures  7 mm\nin diameter.")
    assert doc.structure("lung").sentences[1].text == "It measures 7 mm in diameter."
    assert doc.structure("lung").sentences[1].edited
    snapshots.append(state(doc))
    added = doc.add_sentence("lung", "No consolidation.", position=0)
    snapshots.append(state(doc))
    doc.delete_sentence(doc.structure("others").sentences[0].id)
    snapshots.append(state(doc))
    doc.move_sentence(added, -1)                                 # reorder: to the end of lung
    assert texts(doc, "lung")[-1] == "No consolidation."
    snapshots.append(state(doc))
    bone = doc.structure("bone").sentences[0].id
    doc.move_to_structure(bone, "others", 0)
    assert texts(doc, "others") == ["Degenerative changes in the thoracic spine."] and texts(doc, "bone") == []
    snapshots.append(state(doc))
    doc.set_keywords("bone", doc.keywords("bone") + ["degenerative"])
    snapshots.append(state(doc))
    assert doc.reroute() == 1
    assert texts(doc, "bone") == ["Degenerative changes in the thoracic spine."] and texts(doc, "others") == []
    snapshots.append(state(doc))

    assert doc.revision == 7 and doc.undo_label == "re-route sentences"
    for expected in reversed(snapshots[:-1]):
        assert doc.undo()
        assert state(doc) == expected
    assert not doc.can_undo and not doc.undo() and doc.can_redo
    for expected in snapshots[1:]:
        assert doc.redo()
        assert state(doc) == expected
    assert not doc.redo() and doc.revision == 7 + 2 * 7
    assert doc.sentence(added).id == added  # ids survive undo/redo


def test_listeners_revision_and_redo_cleared(doc):
    seen = []

    def listener(document, change):
        assert document is doc
        seen.append((change.kind, change.label, change.structures, change.revision))

    doc.add_listener(listener)
    sid = doc.structure("others").sentences[0].id
    doc.move_to_structure(sid, "mediastinum and heart")
    doc.undo()
    doc.redo()
    assert seen == [("edit", "move sentence", ("others", "mediastinum and heart"), 1),
                    ("undo", "move sentence", ("others", "mediastinum and heart"), 2),
                    ("redo", "move sentence", ("others", "mediastinum and heart"), 3)]
    doc.undo()
    assert doc.can_redo
    doc.edit_text(sid, "A central venous catheter is seen.")
    assert not doc.can_redo  # a new edit drops the undone branch
    doc.edit_text(sid, "A central venous catheter is seen.")  # no change: no command
    assert len(doc.history.done) == 1 and doc.is_modified
    doc.mark_clean()
    assert not doc.is_modified
    doc.remove_listener(listener)
    doc.undo()
    assert len(seen) == 5 and doc.is_modified
    doc.redo()
    assert not doc.is_modified  # back at the clean state
    doc.undo()
    doc.add_sentence("lung", "Other branch.")
    doc.undo()
    assert doc.is_modified and not doc.redo() is False  # the clean state's branch is gone for good


def test_typing_merges_into_one_undo_step(doc):
    sid = doc.structure("thyroid").sentences[0].id if doc.structure("thyroid").sentences else \
        doc.add_sentence("thyroid", "T")
    before = state(doc)
    for text in ("Th", "Thy", "Thyroid normal."):
        doc.edit_text(sid, text, merge=True)
    assert len(doc.history.done) == 2  # the add, then one merged edit
    doc.undo()
    assert state(doc) == before


def test_keywords_edit_and_reroute(doc):
    original = doc.keywords("others")
    doc.set_keywords("others", [k for k in original if k != "catheter"])
    doc.set_keywords("mediastinum and heart", doc.keywords("mediastinum and heart") + ["catheter"])
    assert doc.keyword_changes() == {"mediastinum and heart": {"added": ["catheter"], "removed": []},
                                     "others": {"added": [], "removed": ["catheter"]}}
    assert doc.original_structure_set.structures[9].keywords == original  # the draft's set is kept
    sid = doc.others.sentences[0].id
    assert doc.reroute() == 1
    assert doc.locate(sid) == (1, 1)  # same sentence object, now after the heart sentence
    assert doc.reroute() == 0  # nothing moves: no undo step
    assert doc.undo_label == "re-route sentences"
    doc.undo()
    assert doc.locate(sid) == (9, 0)


def test_reroute_copies_a_sentence_into_every_matching_structure(doc):
    sid = doc.add_sentence("others", "Thyroid and esophagus are unremarkable.")
    assert doc.reroute() == 2
    assert texts(doc, "esophagus") == texts(doc, "thyroid") == ["Thyroid and esophagus are unremarkable."]
    assert doc.locate(sid)[0] == doc.names.index("esophagus")  # the first hit keeps the id
    assert doc.report_text().count("Thyroid and esophagus") == 1
    ids = [s.id for sec in doc.structures for s in sec.sentences]
    assert len(ids) == len(set(ids))


def test_diff_against_the_draft(doc):
    lung = doc.structure("lung").sentences
    doc.edit_text(lung[1].id, "It measures 7 mm in diameter.")
    doc.delete_sentence(lung[0].id)
    doc.add_sentence("esophagus", "Hiatal hernia.")
    doc.move_to_structure(doc.others.sentences[0].id, "mediastinum and heart")
    doc.set_keywords("thyroid", ["thyroid", "goiter"])
    d = doc.diff()
    lung_diff = d.structure("lung")
    assert lung_diff.changed == [("It measures 6 mm in diameter.", "It measures 7 mm in diameter.")]
    assert lung_diff.removed == ["There is a 6 mm nodule in the right lung upper lobe."]
    assert lung_diff.unchanged == 1 and lung_diff.added == []
    assert d.structure("esophagus").added == ["Hiatal hernia."]
    assert d.structure("others").removed == ["A catheter is seen."]
    assert d.moved == [("A catheter is seen.", "others", "mediastinum and heart")]
    assert d.keywords == {"thyroid": {"added": ["goiter"], "removed": []}}
    assert not d.structure("bone").is_changed
    for line in ("-It measures 6 mm in diameter.", "+It measures 7 mm in diameter.", "+Hiatal hernia.",
                 "-There is a 6 mm nodule in the right lung upper lobe.", " # lung"):
        assert line in d.unified.splitlines()
    assert "+++ edited/lung" in lung_diff.unified
    json.dumps(d.to_json())


def test_json_round_trip_restores_history(doc):
    sid = doc.add_sentence("lung", "Mild emphysema.")
    doc.edit_text(sid, "Moderate emphysema.")
    doc.set_keywords("lung", doc.keywords("lung") + ["bulla"])
    doc.undo()
    restored = ReportDocument.from_json(json.loads(json.dumps(doc.to_json())))
    assert restored == doc and restored.revision == doc.revision == 4
    assert restored.can_redo and restored.redo_label == "edit keywords"
    restored.redo()
    assert "bulla" in restored.keywords("lung")
    while restored.undo():
        pass
    assert restored.report_text() == ReportDocument.from_draft(make_draft()).report_text()
    assert not restored.diff().is_changed
    new_id = restored.add_sentence("lung", "New.")
    assert new_id not in {sid}  # ids are never reused after a restore
    with pytest.raises(CtrgError, match="not a ctrg report document"):
        ReportDocument.from_json({"format": "other"})
    broken = doc.to_json()
    broken["structures"][0]["name"] = "windpipe"
    with pytest.raises(CtrgError, match="do not match"):
        ReportDocument.from_json(broken)
    broken = doc.to_json()
    broken["history"]["undo"][0] = {"op": "teleport"}
    with pytest.raises(CtrgError, match="malformed edit history"):
        ReportDocument.from_json(broken)


_OPS = st.lists(st.tuples(st.sampled_from(["edit", "add", "delete", "move", "reorder", "keywords", "reroute",
                                           "undo", "redo"]),
                          st.integers(0, 50), st.integers(0, 50)), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_random_edit_sequences_undo_to_the_draft_and_redo_to_the_end(ops):
    doc = ReportDocument.from_draft(make_draft())
    start = state(doc)
    for n, (op, a, b) in enumerate(ops):
        ids = [s.id for sec in doc.structures for s in sec.sentences]
        structure = a % len(doc.structures)
        if op == "edit" and ids:
            doc.edit_text(ids[a % len(ids)], f"Edited {n}.", merge=bool(b % 2))
        elif op == "add":
            size = len(doc.structures[structure].sentences)
            doc.add_sentence(structure, f"Added {n} lung.", position=b % (size + 1))
        elif op == "delete" and ids:
            doc.delete_sentence(ids[a % len(ids)])
        elif op == "move" and ids:
            target = b % len(doc.structures)
            doc.move_to_structure(ids[a % len(ids)], target, 0)
        elif op == "reorder" and ids:
            sid = ids[a % len(ids)]
            size = len(doc.structures[doc.locate(sid)[0]].sentences)
            doc.move_sentence(sid, b % size)
        elif op == "keywords":
            doc.set_keywords(structure, doc.keywords(structure)[: 1 + b % 3] + [f"word{n}"])
        elif op == "reroute":
            doc.reroute()
        elif op == "undo":
            doc.undo()
        elif op == "redo":
            doc.redo()
        ids = [s.id for sec in doc.structures for s in sec.sentences]
        assert len(ids) == len(set(ids))
    end = state(doc)
    restored = ReportDocument.from_json(json.loads(json.dumps(doc.to_json())))
    assert state(restored) == end
    while doc.redo():
        pass
    top = state(doc)
    while restored.undo():
        pass
    assert state(restored) == start
    while restored.redo():
        pass
    assert state(restored) == top


@pytest.mark.slow
def test_document_from_a_real_model_draft(phantom_study):
    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.model.zoo import known_names

    if "demo" not in known_names():
        pytest.skip("the demo model is not in the zoo")
    draft = draft_report(phantom_study.volume, "demo", device="cpu", num_beams=1, max_length=64)
    doc = ReportDocument.from_draft(draft)
    assert doc.names == [s.name for s in draft.structures]
    for section, structure in zip(doc.structures, draft.structures):
        assert [s.text for s in section.sentences] == structure.sentences
    assert doc.structure_texts() == [s.text for s in draft.structures]
    first = next(s for sec in doc.structures for s in sec.sentences)
    doc.edit_text(first.id, "Corrected sentence.")
    assert doc.diff().is_changed and "Corrected sentence." in doc.report_text()
