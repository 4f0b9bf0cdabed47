"""GUI fixtures: a real MainWindow under X (xvfb-run), settings in a temporary folder."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("CTRG_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def unsaved_answer(monkeypatch):
    """Windows closing with unsaved work discard it without a question (tests that ask set it)."""
    monkeypatch.setenv("CTRG_UNSAVED", "discard")


@pytest.fixture
def private_folders(tmp_path, monkeypatch):
    """User data (corrections, runs) and autosave state in ``tmp_path``; no scripted restore or edits."""
    monkeypatch.setenv("CTRG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CTRG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CTRG_RESTORE", raising=False)
    monkeypatch.delenv("CTRG_APPLY_EDITS", raising=False)


@pytest.fixture
def study():
    """The phantom as a DICOM series with patient identifiers + the demo model's saved draft (one per session)."""
    from tests.app.editing_support import drafted_study

    return drafted_study()


@pytest.fixture
def editing(window, study):
    """The window reviewing ``study``'s draft; its editing controller."""
    from tests.app.editing_support import open_with_draft

    open_with_draft(window, study)
    return window.editing


@pytest.fixture
def display():
    if not os.environ.get("DISPLAY"):
        pytest.skip("VTK views need an X display with GLX: run under xvfb-run -a")
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        pytest.skip("VTK views need QT_QPA_PLATFORM=xcb")


def _shown_window(qtbot):
    """A MainWindow, 1200 x 900, shown and exposed."""
    from ctrg_desktop.app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def _close_window(w) -> None:
    w.loader.cancel()
    w.loader.wait(10)
    w.close()


@pytest.fixture
def window(display, qtbot):
    w = _shown_window(qtbot)
    yield w
    _close_window(w)


@pytest.fixture
def new_window(display, qtbot):
    """Makes further windows (the app restarted in this process); closed at the end."""
    made = []

    def make():
        made.append(_shown_window(qtbot))
        return made[-1]

    yield make
    for w in made:
        _close_window(w)


@pytest.fixture
def lung_labels(phantom):
    from ctrg_desktop.data.phantoms import structure_of_label

    return [v for v, s in structure_of_label().items() if s == "lung"]


def screen_pixels(view, kji_points) -> np.ndarray:
    """RGB of the rendered view at the screen positions of voxel centres ``kji_points`` (n, 3)."""
    pixels = view.grab_array()
    volume = view.state.volume
    out = []
    for kji in np.asarray(kji_points):
        x, y = view.world_to_display(volume.voxel_to_world(kji))
        r = view.pixel_ratio()
        out.append(pixels[int(round(y * r)), int(round(x * r))])
    return np.array(out)


def sample(mask2d: np.ndarray, axis_index: int, n: int = 60, seed: int = 0) -> np.ndarray:
    """Up to ``n`` voxel (k, j, i) points of an axial mask on slice ``axis_index``, away from edges."""
    from scipy import ndimage

    inner = ndimage.binary_erosion(mask2d, iterations=1)
    jj, ii = np.nonzero(inner if inner.any() else mask2d)
    pick = np.random.default_rng(seed).choice(len(jj), size=min(n, len(jj)), replace=False)
    return np.stack([np.full(len(pick), axis_index), jj[pick], ii[pick]], axis=1)


@pytest.fixture(scope="session")
def simple_study(tmp_path_factory):
    """A tiny self-made chest (no phantom generator): body 40 HU, lungs -850 HU, spine 700 HU.

    Returns ``(volume, lung_mask, path)``; 40 x 64 x 64 voxels at (5, 4, 3) mm.
    """
    from ctrg_desktop.io.sitk_bridge import write_volume
    from ctrg_desktop.io.volume import Volume

    k, j, i = np.mgrid[0:40, 0:64, 0:64]
    body = ((j - 32) / 26.0) ** 2 + ((i - 32) / 30.0) ** 2 < 1
    lungs = ((((j - 30) / 14.0) ** 2 + ((i - 19) / 9.0) ** 2 < 1) | (((j - 30) / 14.0) ** 2 + ((i - 45) / 9.0) ** 2 < 1))
    lungs &= (k > 4) & (k < 36)
    spine = ((j - 50) / 5.0) ** 2 + ((i - 32) / 5.0) ** 2 < 1
    array = np.full((40, 64, 64), -1000, np.int16)
    array[body] = 40
    array[lungs] = -850
    array[spine] = 700
    array += (np.arange(64, dtype=np.int16) % 3)[None, None, :]  # a little texture: HU differ by column
    volume = Volume(array, spacing=(5.0, 4.0, 3.0), origin=(-90.0, -120.0, 30.0))
    path = tmp_path_factory.mktemp("simple") / "simple.nii.gz"
    write_volume(volume, path)
    return volume, lungs, path


@pytest.fixture
def phantom(request):
    """``(study, nifti path)`` from the synthetic-phantom generator (skipped while it is unavailable)."""
    try:
        from ctrg_desktop.data.phantoms import generate_study  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"phantom generator not available: {exc}")
    return request.getfixturevalue("phantom_study"), request.getfixturevalue("phantom_nifti")
