import json

import pytest

from ctrg_desktop.reports import load_structure_set, parse_report, split_sentences
from ctrg_desktop.reports.structures import StructureSet

CHEST = load_structure_set("chest_ct")


def test_chest_set_has_the_papers_ten_structures():
    assert CHEST.names[0] == "trachea and bronchi" and CHEST.names[-1] == "others"
    assert len(CHEST) == 10 and CHEST.others_index == 9


@pytest.mark.parametrize("text, expected", [
    ("A 23x16.5 mm nodule is seen. Compared with 26.02.2015, stable.",
     ["A 23x16.5 mm nodule is seen.", "Compared with 26.02.2015, stable."]),
    ("Heart size increased.Thyroid normal.", ["Heart size increased.Thyroid normal."]),
    ("Small nodules, e.g. in the right lung. Liver normal", ["Small nodules, e.g. in the right lung.", "Liver normal"]),
    ("Findings:\nTrachea open.\n\nNo effusion!", ["Findings:", "Trachea open.", "No effusion!"]),
    ("", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_routing_keywords_and_spaces():
    r = parse_report("Ribs are intact. Fibrosis in the left lung. Trachea and both main bronchi are open. "
                     "Heart size increased and pericardial effusion is seen.", CHEST)
    s = {x.text: x.structures for x in r.sentences}
    assert s["Ribs are intact."] == (5,)
    assert s["Fibrosis in the left lung."] == (2,)  # " rib" must not match "fibrosis"
    assert s["Trachea and both main bronchi are open."] == (0,)
    assert s["Heart size increased and pericardial effusion is seen."] == (1,)


def test_multiple_structures_continuation_and_others():
    r = parse_report("Hiatal hernia and emphysema in the lungs. It measures 3 cm. "
                     "Catheter in place. Nothing else remarkable.", CHEST)
    assert r.sentences[0].structures == (2, 3)
    assert r.sentences[1].structures == (2, 3) and not r.sentences[1].matched
    assert r.sentences[2].structures == (9,) and r.sentences[2].matched
    assert r.sentences[3].structures == (9,)  # never dropped
    texts = r.texts_by_structure()
    assert texts[6] == "No abnormality found in thyroid."
    assert "It measures 3 cm." in texts[3]
    assert sum(len(s.structures) for s in r.sentences) >= len(r.sentences)


def test_structure_set_validation_and_round_trip(tmp_path):
    data = CHEST.to_json()
    path = tmp_path / "mine.json"
    CHEST.save(path)
    assert load_structure_set(path).to_json() == data
    bad = dict(data, structures=[s for s in data["structures"] if s["name"] != "others"])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="catch-all"):
        load_structure_set(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no structure set"):
        load_structure_set("no_such_set")
    assert isinstance(load_structure_set("brain_ct"), StructureSet)
