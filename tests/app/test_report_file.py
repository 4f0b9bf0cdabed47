"""Report > Save report writes what the reader sees (edited sentences and keywords) with the
model's draft kept inside: reopened (File > Open draft, ``--open-draft``) it shows the edited
report, the changes dialog still diffs against the model's draft, the masks come back from beside
it; a plain draft (``ctrg generate``, older saves) still opens as before."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from ctrg_desktop.app.drafting.report_model import SentenceRef  # noqa: E402
from tests.app.editing_support import add_box_mask, mentioned, open_copy  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
EDITED = "Small nodule of 4 mm in the left lower lobe."
ADDED = "Minimal pleural thickening at the right base."


def test_save_report_writes_the_edited_report_and_reopens_with_its_diff(window, new_window, study, qtbot, tmp_path):
    index = mentioned(study.draft)[0]
    name = study.draft.structures[index].name
    original = study.draft.structures[index].sentences[0]
    path = open_copy(window, study, tmp_path / "first")
    editing = window.editing
    editing.edit_text(SentenceRef(index, 0), EDITED)
    editing.add_sentence("pleura", ADDED)
    editing.set_keywords("thyroid", [*editing.document.keywords("thyroid"), "goitre"], reroute=False)
    add_box_mask(window)
    target = tmp_path / "saved" / "edited.json"
    assert window.drafting.save_draft(target) == target  # Report > Save report (Ctrl+Shift+G)
    assert "Saved the report" in window.statusBar().currentMessage()
    assert not editing.document.is_modified and not editing.unsaved().any
    assert not editing.autosave.store.path_for(editing.study_key).exists()

    data = json.loads(target.read_text())
    assert data["format"] == "ctrg-draft-report"
    assert EDITED in data["report"] and ADDED in data["report"] and original not in data["report"]
    section = next(s for s in data["structures"] if s["name"] == name)
    assert section["sentences"][0] == EDITED  # what the reader sees, per structure
    assert data["model_draft"]["report"] == study.draft.report  # the model's draft, kept for the diff
    assert next(s for s in data["model_draft"]["structures"] if s["name"] == name)["sentences"][0] == original
    thyroid = next(s for s in data["document"]["structure_set"]["structures"] if s["name"] == "thyroid")
    assert "goitre" in thyroid["keywords"]
    assert (tmp_path / "saved" / "edited.attention.npy").is_file()
    assert (tmp_path / "saved" / "edited.masks.npz").is_file()
    assert json.loads(path.read_text())["report"] == study.draft.report  # the opened copy is untouched

    other = new_window()  # reopen in a fresh window, as --open-draft does
    assert other.open_study(study.folder)
    assert other.drafting.open_draft(target), other.last_error
    document = other.editing.document
    assert document is not None and not document.is_modified
    model = other.drafting.report_panel.model
    assert model.text(SentenceRef(index, 0)) == EDITED
    assert ADDED in [model.text(r) for r in model.refs(document.names.index("pleura"))]
    assert "goitre" in document.keywords("thyroid")
    assert other.drafting.draft.report == study.draft.report and other.drafting.evidence is not None
    assert np.array_equal(other.drafting.draft.attention, study.draft.attention)
    diff = document.diff()
    assert diff.is_changed and (original, EDITED) in diff.structure(name).changed
    assert ADDED in diff.structure("pleura").added and diff.keywords["thyroid"]["added"] == ["goitre"]
    dialog = other.editing.show_diff()
    assert "1 changed, 1 added" in dialog.text() and f"-{original}" in dialog.text()
    dialog.close()
    masks = other.segmentation.masks
    assert masks.names == ["nodule"] and masks.get("nodule").structure == "lung" and not masks.is_modified
    assert other.editing.undo()  # the saved history: Edit > Undo steps back through the edits
    assert "goitre" not in document.keywords("thyroid") and document.is_modified

    old = new_window()  # a plain draft (no edits inside) opens as before
    assert old.open_study(study.folder) and old.drafting.open_draft(study.draft_path)
    assert old.editing.document.draft_text == study.draft.report and old.drafting.draft.report == study.draft.report
    assert not old.editing.document.diff().is_changed and old.segmentation.masks.names == []
