"""Report > Export from the window on a DICOM study: every format written off the GUI thread from
the edited report and validated by reading it back (pydicom/highdicom, SimpleITK, QtPdf); the
clipboard; problems shown as a one-line message box while the window stays usable."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from ctrg_desktop.app.drafting.report_model import SentenceRef  # noqa: E402
from ctrg_desktop.app.editing.export_actions import KINDS  # noqa: E402
from ctrg_desktop.export import MaskSpec  # noqa: E402
from tests.app.editing_support import mentioned  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("private_folders")]
EDITED = "Small nodule of 4 mm in the left lower lobe, corrected by the reader."
FILES = {"text": "report.txt", "json": "report.json", "pdf": "report.pdf", "dicom-sr": "report-sr.dcm",
         "dicom-seg": "masks-seg.dcm", "nifti-labelmap": "masks.nii.gz", "nifti-masks": "masks"}


def _masks(study) -> list[MaskSpec]:
    lungs = study.lungs()
    box = np.zeros(lungs.shape, bool)
    k, j, i = (n // 2 for n in lungs.shape)
    box[k - 2:k + 2, j - 6:j + 6, i - 20:i - 10] = True  # overlaps the right lung: the later mask wins
    return [MaskSpec("lungs", lungs, "#81c784", "lung", "LiteMedSAM"), MaskSpec("nodule", box, "#e53935")]


def _export(qtbot, editing, kind, path, masks=None):
    with qtbot.waitSignal(editing.exports.finished, timeout=60_000) as blocker:
        started = editing.exports.export(kind, path, masks=masks)
        # a started export is written on the export thread: export() returns before it ends
        assert not started or not blocker.signal_triggered
    return blocker.args[0]


def _texts(dataset) -> list[str]:
    """Every TextValue in an SR content tree."""
    out = []
    for item in getattr(dataset, "ContentSequence", []):
        if "TextValue" in item:
            out.append(str(item.TextValue))
        out += _texts(item)
    return out


def _pdf_pixels(document, page: int) -> np.ndarray:
    size = QtCore.QSize(595, 842)
    image = QtGui.QImage(size, QtGui.QImage.Format.Format_RGB888)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    painter.drawImage(0, 0, document.render(page, size))
    painter.end()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    # a copy: the array must not outlive the QImage whose memory it views (freed on return)
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_export_every_format_from_the_window(window, editing, study, qtbot, tmp_path):
    import highdicom as hd
    import pydicom
    import SimpleITK as sitk
    from PySide6.QtPdf import QPdfDocument

    index = mentioned(study.draft)[0]
    editing.edit_text(SentenceRef(index, 0), EDITED)
    window.drafting.choose_sentence(SentenceRef(index, 0))  # its evidence is on the key images
    masks = _masks(study)
    seconds = {}
    for kind, name in FILES.items():
        outcome = _export(qtbot, editing, kind, tmp_path / name, masks if KINDS[kind].masks else None)
        assert outcome.ok, f"{kind}: {outcome.error}"
        seconds[kind] = round(outcome.prepare_seconds + outcome.seconds, 3)
    print("export seconds:", seconds)
    assert "Exported the masks as NIfTI files" in window.statusBar().currentMessage()

    text = (tmp_path / FILES["text"]).read_text()
    assert EDITED in text and "edited by the reader" in text and "Testpatient" not in text
    data = json.loads((tmp_path / FILES["json"]).read_text())
    assert EDITED in json.dumps(data) and "Testpatient" not in json.dumps(data)

    pdf = QPdfDocument()
    pdf.load(str(tmp_path / FILES["pdf"]))
    assert pdf.status() == QPdfDocument.Status.Ready and pdf.pageCount() >= 3  # report + 3 key images, 2 a page
    words = " ".join(pdf.getAllText(0).text().split())
    assert EDITED in words and "edited by the reader" in words
    image_page = _pdf_pixels(pdf, 1)
    assert (image_page.max(axis=2) < 100).mean() > 0.08  # the slice views (dark CT) are on the page
    assert "Axial slice" in " ".join(pdf.getAllText(1).text().split())

    sr = pydicom.dcmread(tmp_path / FILES["dicom-sr"])
    assert sr.Modality == "SR" and sr.StudyInstanceUID == study.volume.meta.study_instance_uid
    assert any(EDITED in t for t in _texts(sr))
    assert hd.sr.srread(tmp_path / FILES["dicom-sr"]).SOPInstanceUID == sr.SOPInstanceUID

    seg = hd.seg.segread(tmp_path / FILES["dicom-seg"])
    assert seg.StudyInstanceUID == sr.StudyInstanceUID and len(seg.SegmentSequence) == 2
    frames = seg.pixel_array.reshape(-1, *seg.pixel_array.shape[-2:])
    numbers = [int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
               for f in seg.PerFrameFunctionalGroupsSequence]
    for number, mask in enumerate(masks, start=1):
        voxels = sum(int(frame.sum()) for frame, n in zip(frames, numbers) if n == number)
        assert voxels == int(mask.array.sum()), mask.name

    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / FILES["nifti-labelmap"])))
    lungs, nodule = (m.array for m in masks)
    assert int((labels == 1).sum()) == int((lungs & ~nodule).sum()) and int((labels == 2).sum()) == int(nodule.sum())
    folder = tmp_path / FILES["nifti-masks"]
    assert sorted(p.name for p in folder.iterdir()) == ["lungs.nii.gz", "masks.labels.json", "nodule.nii.gz"]

    copy = next(a for a in window.actions_ if a.text() == "Copy report to clip&board")
    copy.trigger()
    assert EDITED in QtWidgets.QApplication.clipboard().text()


def test_export_problems_are_shown_and_the_window_stays_up(window, editing, study, qtbot, tmp_path):
    outcome = _export(qtbot, editing, "dicom-seg", tmp_path / "seg.dcm")  # the segmentation tool has no masks
    assert not outcome.ok and outcome.error.startswith("there are no masks")
    assert window.error_box.isVisible() and "\n" not in window.last_error
    window.error_box.close()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    outcome = _export(qtbot, editing, "text", blocker / "report.txt")
    assert not outcome.ok and "\n" not in outcome.error and window.error_box.isVisible()
    bad = [MaskSpec("tiny", np.ones((2, 2, 2), bool))]
    outcome = _export(qtbot, editing, "nifti-labelmap", tmp_path / "m.nii.gz", bad)
    assert not outcome.ok and "has shape [2, 2, 2]" in outcome.error
    outcome = _export(qtbot, editing, "json", tmp_path / "ok.json")  # still working
    assert outcome.ok and (tmp_path / "ok.json").is_file() and window.volume is not None
