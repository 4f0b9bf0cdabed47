"""The model's observations (CT-RATE label probabilities) under each structure of the Structures
dock, in the real window, with hand-made drafts (no model run); old drafts without any still open."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtWidgets  # noqa: E402

from ctrg_desktop.app.drafting.observations import (ROLE, by_structure, line, observations_of,  # noqa: E402
                                                    percent)
from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES  # noqa: E402

pytestmark = pytest.mark.gui

#: label -> probability of the fake observation heads (the others get 0.02)
BELIEFS = {"Cardiomegaly": 0.912, "Pericardial effusion": 0.04, "Lymphadenopathy": 0.55, "Emphysema": 0.73,
           "Lung nodule": 0.5, "Atelectasis": 0.31, "Pleural effusion": 0.0021, "Hiatal hernia": 0.999}


def _observations() -> list[dict]:
    return [{"label": label, "probability": BELIEFS.get(label, 0.02), "structure": LABEL_STRUCTURES[label]}
            for label in CT_RATE_LABELS]


def _draft(volume, observations=None):
    """A DraftReport of ``volume`` as ``draft_report`` makes it, with a random attention map."""
    from ctrg_desktop.overlays.patch_lookup import geometry_of
    from ctrg_desktop.imaging.patches import PatchGrid
    from ctrg_desktop.imaging.pipeline import prepare_volume
    from ctrg_desktop.imaging.window import PAPER_WINDOW
    from ctrg_desktop.inference import DraftReport, StructureDraft
    from ctrg_desktop.reports.structures import load_structure_set

    shape, patch = (16, 32, 32), (4, 8, 8)
    prepared, grid = prepare_volume(volume, (5.0, 4.0, 4.0), shape, PAPER_WINDOW), PatchGrid(shape, patch)
    preprocessing = {"patch": list(patch), "grid_counts": list(grid.counts), "num_patches": grid.num_patches,
                     "model_grid": geometry_of(prepared.grid)}
    sentences = {"lung": ["Emphysematous changes in both lungs."], "mediastinum and heart": ["The heart is enlarged."]}
    structures = [StructureDraft(index=i, name=s.name, colour=s.colour, sentences=sentences.get(s.name, []),
                                 text=" ".join(sentences.get(s.name, [])) or f"No finding in {s.name}.",
                                 mentioned=s.name in sentences, top_patches=[])
                  for i, s in enumerate(load_structure_set("chest_ct").structures)]
    draft = DraftReport(model={"name": "fake"}, study=geometry_of(volume), preprocessing=preprocessing, generation={},
                        device="cpu", report=" ".join(t for ts in sentences.values() for t in ts),
                        structures=structures, timings={},
                        attention=np.random.default_rng(0).random((len(structures), grid.num_patches), np.float32))
    if observations is not None:
        draft.observations = observations
    return draft


def _index(draft, name: str) -> int:
    return draft.structure(name).index


def test_observations_are_read_sorted_and_grouped():
    found = observations_of({"observations": _observations() + [{"label": "broken", "probability": "n/a"}]})
    assert len(found) == 18
    grouped = by_structure(found)
    assert [o.label for o in grouped["mediastinum and heart"][:3]] == ["Cardiomegaly", "Lymphadenopathy",
                                                                       "Pericardial effusion"]
    assert line(grouped["esophagus"]) == "Hiatal hernia >99 %"
    assert percent(0.912) == "91 %" and percent(0.0021) == "<1 %" and percent(0.0) == "0 %"
    assert observations_of({}) == [] and observations_of({"observations": None}) == []
    assert observations_of(object()) == []  # a DraftReport of an older model: no attribute


def test_a_guided_label_is_present_from_its_own_threshold():
    from ctrg_desktop.app.drafting.observations import line_html, tooltip

    found = observations_of({"observations": [
        {"label": "Hiatal hernia", "probability": 0.03, "structure": "esophagus", "threshold": 0.009},
        {"label": "Emphysema", "probability": 0.45, "structure": "lung", "threshold": 0.6},
        {"label": "Lung nodule", "probability": 0.55, "structure": "lung"}]})
    assert [o.present for o in found] == [True, False, True]
    assert line_html(found[:1], "#888").startswith("<b>Hiatal")
    tip = tooltip(found)
    assert "Hiatal hernia: 3 % (stated in the draft by the observation guide, threshold 1 %)" in tip
    assert "Emphysema: 45 % (ruled out in the draft by the observation guide, threshold 60 %)" in tip
    assert "Lung nodule: 55 % (likely present)" in tip


def test_panel_shows_each_structures_labels_with_probabilities(window, simple_study, tmp_path, qtbot):
    drafting = window.drafting
    assert window.open_study(simple_study[2]), window.last_error
    draft = _draft(window.volume, _observations())
    assert drafting.review(draft, tmp_path / "report.json")
    panel = drafting.structure_panel
    assert panel.list.count() == len(draft.structures)

    heart = panel.observation_line(_index(draft, "mediastinum and heart"))
    assert heart.startswith("Cardiomegaly 91 % · Lymphadenopathy 55 % · Pericardial effusion 4 %")
    assert {"Arterial wall calcification 2 %", "Coronary artery wall calcification 2 %"} <= set(heart.split(" · "))
    lung = panel.observation_line(_index(draft, "lung")).split(" · ")
    assert lung[:3] == ["Emphysema 73 %", "Lung nodule 50 %", "Atelectasis 31 %"] and len(lung) == 8
    assert panel.observation_line(_index(draft, "pleura")) == "Pleural effusion <1 %"
    assert panel.observation_line(_index(draft, "esophagus")) == "Hiatal hernia >99 %"
    assert panel.observation_line(_index(draft, "trachea and bronchi")).count("%") == 2
    assert panel.observation_line(_index(draft, "others")) == "Medical material 2 %"
    assert panel.observation_line(_index(draft, "bone")) == ""  # no label is routed there

    item = panel._item(_index(draft, "mediastinum and heart"))
    assert "probability that the finding is present (observation head)" in item.toolTip()
    assert "Cardiomegaly: 91 % (likely present)" in item.toolTip()
    # rows with observations are taller than rows without; the checkbox still toggles evidence
    view = panel.list
    heart_rect = view.visualItemRect(item)
    bone_rect = view.visualItemRect(panel._item(_index(draft, "bone")))
    assert heart_rect.height() > bone_rect.height() + 8
    panel.set_checked(_index(draft, "mediastinum and heart"), True)
    assert "attention: mediastinum and heart" in window.layers.names

    window.docks["Structures"].raise_()
    panel.resize(300, 640)
    qtbot.wait(300)
    assert panel.grab().save(str(tmp_path / "obs_panel.png"))  # a picture of the dock to look at


def test_checkbox_click_in_a_tall_row_toggles(window, simple_study, tmp_path, qtbot):
    drafting = window.drafting
    assert window.open_study(simple_study[2]), window.last_error
    draft = _draft(window.volume, _observations())
    assert drafting.review(draft, tmp_path / "report.json")
    panel, index = drafting.structure_panel, _index(draft, "lung")
    view, item = panel.list, panel._item(index)
    view.scrollToItem(item)
    model_index, delegate = view.indexFromItem(item), view.itemDelegate()
    opt = QtWidgets.QStyleOptionViewItem()
    view.initViewItemOption(opt)
    opt.rect = view.visualItemRect(item)
    head = delegate._head(opt, model_index)  # the check box sits in the row's top line
    delegate.initStyleOption(head, model_index)
    check = view.style().subElementRect(QtWidgets.QStyle.SubElement.SE_ItemViewItemCheckIndicator, head, view)
    assert opt.rect.contains(check) and check.center().y() < opt.rect.center().y()
    qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=check.center())
    assert panel.is_checked(index) and "attention: lung" in window.layers.names


def test_old_draft_without_observations_still_opens(window, simple_study, tmp_path):
    drafting = window.drafting
    assert window.open_study(simple_study[2]), window.last_error
    draft = _draft(window.volume)
    path = draft.save(tmp_path / "old.json")
    data = json.loads(path.read_text())
    data.pop("observations", None)  # a draft written before the observation heads
    path.write_text(json.dumps(data))
    assert drafting.open_draft(path), window.last_error
    panel = drafting.structure_panel
    assert panel.list.count() == len(draft.structures)
    assert all(panel.observation_line(s.index) == "" for s in draft.structures)
    assert all(panel._item(s.index).data(ROLE) is None for s in draft.structures)
    assert "observation head" not in panel._item(0).toolTip()


def test_saved_draft_with_observations_reopens_with_them(window, simple_study, tmp_path):
    drafting = window.drafting
    assert window.open_study(simple_study[2]), window.last_error
    path = _draft(window.volume).save(tmp_path / "new.json")
    data = json.loads(path.read_text())
    data["observations"] = _observations()
    path.write_text(json.dumps(data))
    assert drafting.open_draft(path), window.last_error
    if not getattr(drafting.draft, "observations", None):
        pytest.skip("load_draft does not read observations yet")
    heart = drafting.draft.structure("mediastinum and heart").index
    assert drafting.structure_panel.observation_line(heart).startswith("Cardiomegaly 91 %")
