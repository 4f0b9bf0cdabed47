"""Report > Accept report: the edited report of a DICOM study with patient identifiers becomes a
de-identified training record (read back with the CT-RATE reader, no identifier anywhere), the
report is clean and its autosave gone; a report naming the patient is refused; an accept during
a mask propagation is refused, and a finished one is confirmed (record, sentences, masks, folder)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from ctrg_desktop.app.drafting.report_model import SentenceRef  # noqa: E402
from ctrg_desktop.app.editing.accept import PROPAGATING  # noqa: E402
from ctrg_desktop.corrections import find_phi  # noqa: E402
from ctrg_desktop.data.ctrate import CTRateDataset  # noqa: E402
from ctrg_desktop.export import MaskSpec  # noqa: E402
from tests.app.editing_support import mentioned  # noqa: E402
from tests.app.helpers import until_signal  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
EDITED = "Small nodule of 4 mm in the left lower lobe."


def _accept(qtbot, editing, trigger):
    return until_signal(qtbot, editing.acceptor.finished, trigger)[0]


def test_accept_writes_a_deidentified_training_record(window, editing, study, qtbot, tmp_path):
    index = mentioned(study.draft)[0]
    editing.edit_text(SentenceRef(index, 0), EDITED)
    editing.add_sentence("pleura", "Minimal pleural thickening at the right base.")
    qtbot.waitUntil(lambda: editing.autosave.store.path_for(editing.study_key).is_file(), timeout=2000)
    action = next(a for a in window.actions_ if a.text().startswith("&Accept report"))
    outcome = _accept(qtbot, editing, action.trigger)  # Report > Accept report: the default folder
    assert outcome.ok, outcome.error
    root = tmp_path / "data" / "corrections"
    assert outcome.root == root and root in outcome.record_dir.parents
    records = CTRateDataset(root, split=None)
    assert [r.volume_name for r in records] == [outcome.record_id]
    record = records[0]
    assert EDITED in record.findings and "Minimal pleural thickening at the right base." in record.findings
    assert record.volume_path.is_file() and record.labels  # the 18 CT-RATE labels of the final text
    assert find_phi(outcome.record_dir, study.volume) == [] and find_phi(root, study.volume) == []
    document = editing.document
    assert not document.is_modified and editing.editor.state_label.text() == "Edited"
    assert not editing.autosave.store.path_for(editing.study_key).exists()
    assert f"Accepted as {outcome.record_id}" in window.statusBar().currentMessage()


def test_accept_with_masks_and_refusal_of_identifiers(window, editing, study, qtbot, tmp_path):
    root = tmp_path / "corrections"
    lungs = study.lungs()
    masks = [MaskSpec("left lung", lungs & (np.arange(lungs.shape[2]) >= lungs.shape[2] // 2), "#81c784", "lung"),
             MaskSpec("right lung", lungs & (np.arange(lungs.shape[2]) < lungs.shape[2] // 2), "#81c784", "lung"),
             MaskSpec("scribble", np.zeros(lungs.shape, bool), "#ffffff")]
    sid = editing.add_sentence("others", "Findings discussed with Testpatient Jane.")
    outcome = _accept(qtbot, editing, lambda: editing.acceptor.accept(root=root, masks=masks))
    assert not outcome.ok and "patient name" in outcome.error and window.error_box.isVisible()
    assert not any(root.glob("*/*/*/record.json")) and editing.document.is_modified
    editing.edit_text(editing.panel.model.ref_of(sid), "Findings discussed with the referring team.")
    outcome = _accept(qtbot, editing, lambda: editing.acceptor.accept(root=root, masks=masks))
    assert outcome.ok, outcome.error
    assert outcome.masks == ["lung"] and outcome.skipped == ["scribble"]
    [record] = CTRateDataset(root, split=None)
    assert record.label_map_path is not None and record.label_map_path.is_file()
    import SimpleITK as sitk

    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(record.label_map_path)))
    lung = editing.document.names.index("lung") + 1
    assert int((labels == lung).sum()) == int(lungs.sum()) and set(np.unique(labels)) == {0, lung}
    assert find_phi(root, study.volume) == []


def test_accept_refuses_the_study_date_and_institution_written_otherwise(window, editing, study, qtbot, tmp_path):
    """Report > Accept shows why: the study date as "Jan 15, 2024" (20240115 in the DICOM header)
    and the institution's short name ("Example" of "Example General Hospital")."""
    root = tmp_path / "corrections"
    editing.add_sentence("others", "Compared with the CT of Jan 15, 2024 done at Example.")
    outcome = _accept(qtbot, editing, lambda: editing.acceptor.accept(root=root, masks=[]))
    assert not outcome.ok and window.error_box.isVisible()
    assert "study date" in outcome.error and "institution" in outcome.error
    assert window.last_error == f"Cannot accept the report: {outcome.error}"
    assert "study date" in window.error_box.text() and not any(root.glob("*/*/*/record.json"))


class GatedSegmenter:
    """A segmenter process whose propagation waits for ``gate`` (grows the start slice by 2
    slices each way along the axis)."""

    loaded = {"segmenter": "gated test segmenter", "device": "cpu"}

    def __init__(self):
        self.gate, self.running = threading.Event(), threading.Event()
        self.shape = None

    def set_study(self, volume, key) -> None:
        self.shape = volume.shape

    def request(self, kind, payload, on_progress=None, on_slice=None):
        from ctrg_desktop.workers.pipe import pack, unpack

        assert kind == "propagate", kind
        self.running.set()
        self.gate.wait(60)
        axis, index = payload["axis"], payload["index"]
        volume = np.zeros(self.shape, bool)
        start = unpack(payload["start_mask"])
        for n in range(max(0, index - 2), min(self.shape[axis], index + 3)):
            np.moveaxis(volume, axis, 0)[n] = start
        return {"mask": pack(volume), "embedded": 0, "cancelled": False, "seconds": 0.0}

    def cancel_propagation(self) -> None:
        self.gate.set()

    def stop(self) -> None:
        self.gate.set()


def test_accept_refused_while_propagating_then_confirms_what_was_written(window, editing, study, qtbot, tmp_path):
    from tests.app.editing_support import add_box_mask

    root = tmp_path / "corrections"
    seg = window.segmentation
    segmenter = seg.worker.process = GatedSegmenter()
    mask = add_box_mask(window, "lesion", "lung", box=((24, 25), (20, 30), (15, 25)))
    editing.edit_text(SentenceRef(mentioned(study.draft)[0], 0), EDITED)
    assert seg.propagate("lesion", window.slice_views["axial"]) is not None
    assert segmenter.running.wait(30) and seg.propagating
    outcome = _accept(qtbot, editing, lambda: editing.acceptor.accept(root=root))  # Report > Accept, mid-propagation
    assert not outcome.ok and outcome.error == PROPAGATING
    assert window.error_box.isVisible() and "a mask is still being propagated: wait for it or cancel it" in \
        window.error_box.text()
    assert not root.exists() and editing.document.is_modified

    with qtbot.waitSignal(seg.propagation_done, timeout=30_000):
        segmenter.gate.set()
    assert mask.voxels == 5 * 10 * 10 and seg.masks.is_modified
    window.error_box.close()
    outcome = _accept(qtbot, editing, lambda: editing.acceptor.accept(root=root))
    assert outcome.ok, outcome.error
    assert outcome.masks == ["lung"] and outcome.sentences == sum(len(s.sentences) for s in editing.document.structures)
    box = editing.acceptor.confirm_box
    assert box.isVisible() and box.windowTitle() == "Report accepted"
    text = box.text()
    assert f"Record {outcome.record_id}" in text and f"{outcome.sentences} sentence(s)" in text
    assert "Masks: lung." in text and str(outcome.record_dir) in text
    assert f"Accepted as {outcome.record_id}" in window.statusBar().currentMessage()
    [record] = CTRateDataset(root, split=None)
    import SimpleITK as sitk

    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(record.label_map_path)))
    assert int((labels == editing.document.names.index("lung") + 1).sum()) == 5 * 10 * 10  # the propagated mask
    assert not editing.document.is_modified and not seg.masks.is_modified  # all recorded: nothing unsaved
