"""The real window under X: open studies, presets change pixels, bad input keeps the app usable."""

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from ctrg_desktop.app.main import main as app_main  # noqa: E402
from tests.app.conftest import sample, screen_pixels  # noqa: E402

pytestmark = pytest.mark.gui


def _lung_points(window, phantom_study, lung_labels):
    k = window.state.cursor[0]
    lungs = np.isin(phantom_study.label_map[k], lung_labels)
    assert lungs.any()
    return sample(lungs, k)


def test_open_phantom_presets_change_lung_grey(window, phantom, lung_labels):
    phantom_study, phantom_nifti = phantom
    assert window.open_study(phantom_nifti)
    assert window.volume.shape == phantom_study.volume.shape
    assert '"orientation": "LPS"' in window.info.json_text()
    window.set_crosshair_visible(False)
    axial = window.slice_views["axial"]
    points = _lung_points(window, phantom_study, lung_labels)
    window.set_preset("lung")
    lung = screen_pixels(axial, points).mean(axis=1)
    window.set_preset("mediastinum")
    med = screen_pixels(axial, points).mean(axis=1)
    assert 30 < np.median(lung) < 120  # lung window: lungs dark grey
    assert np.median(med) < 8  # mediastinal window: lungs black
    assert window.preset_box.currentText() == "mediastinum"


def test_orientation_labels_and_slice_text(window, simple_study):
    assert window.open_study(simple_study[2])
    labels = {name: view.edges.text() for name, view in window.slice_views.items()}
    assert labels["axial"] == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert labels["coronal"] == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert labels["sagittal"] == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    k = window.state.cursor[0]
    assert window.slice_views["axial"].info.actor.GetInput() == f"Axial  {k + 1}/{window.volume.shape[0]}"
    assert window.slice_views["axial"].scale_bar.length_mm > 0


def test_open_demo_study_lung_window(window, demo_study):
    assert window.open_demo()
    assert window.volume.shape == (191, 167, 233)
    window.set_crosshair_visible(False)
    window.set_preset("lung")
    axial = window.slice_views["axial"]
    k = window.state.cursor[0]
    hu = window.volume.array[k]
    lungish = (hu > -880) & (hu < -780)
    grey = screen_pixels(axial, sample(lungish, k, seed=1)).mean(axis=1)
    assert 40 < np.median(grey) < 120  # (-830 + 1350) / 1500 * 255 = 88
    pixels = window.volume_view.grab_array()
    assert (np.abs(pixels.astype(int) - [20, 20, 26]).sum(axis=2) > 40).mean() > 0.05  # 3D drew a body


def test_corrupt_file_and_unreadable_folder_keep_app_usable(window, simple_study, tmp_path):
    phantom_nifti = simple_study[2]
    assert window.open_study(phantom_nifti)
    bad = tmp_path / "corrupt.nii.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    assert not window.open_study(bad)
    assert "corrupt.nii.gz" in window.last_error
    assert window.error_box.isVisible()
    window.error_box.close()
    assert window.volume is not None and window.isVisible()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not window.open_study(empty)
    assert "empty" in window.last_error
    assert window.open_study(phantom_nifti)  # still usable
    assert window.last_error is None


def test_screenshot_option(display, qapp, simple_study, tmp_path):
    out = tmp_path / "shot.png"
    assert app_main([str(simple_study[2]), "--preset", "lung", "--layout", "1x3", "--screenshot", str(out)]) == 0
    from PySide6 import QtGui

    image = QtGui.QImage(str(out))
    assert out.stat().st_size > 10_000 and image.width() > 600


def test_phantom_labels_overlay_where_mask_is(window, phantom, lung_labels):
    from ctrg_desktop.overlays import LabelMapLayer

    study, path = phantom
    assert window.open_study(path)
    window.set_crosshair_visible(False)
    labels = np.isin(study.label_map, lung_labels).astype(np.uint8)
    window.layers.add(LabelMapLayer(labels, colours={1: (1, 0, 0)}, name="lungs", opacity=1.0))
    points = _lung_points(window, study, lung_labels)
    rgb = screen_pixels(window.slice_views["axial"], points).astype(int)
    assert ((rgb[:, 0] > 150) & (rgb[:, 1] < 80)).mean() > 0.9


def test_screenshot_of_missing_study_fails(display, qapp, tmp_path):
    out = tmp_path / "shot.png"
    assert app_main([str(tmp_path / "missing.nii.gz"), "--screenshot", str(out)]) == 2
    assert out.is_file()
