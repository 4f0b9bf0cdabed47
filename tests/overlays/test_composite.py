"""CPU slice compositing: grey window like VTK's, label/heat colours, opacity, order, thresholds."""

import numpy as np

from ctrg_desktop.overlays import HeatmapLayer, LabelMapLayer
from ctrg_desktop.overlays.composite import GreyWindow, composite_slice, take_slice


def test_grey_window_matches_formula_for_int16_and_float():
    values = np.array([-2000, -1000, -600, 0, 150, 3000], np.int16)
    grey = GreyWindow(level=-600, width=1500)
    expected = np.clip((values - (-600 - 750)) / 1500 * 255, 0, 255).astype(np.uint8)
    assert np.array_equal(grey(values), expected)
    assert np.array_equal(grey(values.astype(np.float32)), expected)


def test_layers_blend_bottom_to_top_with_opacity_and_threshold():
    volume = np.zeros((3, 4, 5), np.int16)
    grey = GreyWindow(level=0, width=2)  # 0 HU -> 127
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[1, :, :2] = 1
    red = LabelMapLayer(labels, colours={1: (1, 0, 0)}, opacity=1.0)
    heat = np.zeros((3, 4, 5), np.float32)
    heat[1, :, 1:] = 1.0
    blue = HeatmapLayer(heat, colormap="reds", threshold=0.5, range=(0, 1), opacity=0.5)
    out = composite_slice(volume, 0, 1, grey, [red, blue])
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 0, 0]  # label only
    assert out[0, 4].tolist() == [191, 63, 63]  # half red heat over grey 127
    assert out[0, 1].tolist() == [255, 0, 0]  # heat (red, half) over the red label
    red.visible = False
    assert composite_slice(volume, 0, 1, grey, [red, blue])[0, 0].tolist() == [127, 127, 127]
    blue.threshold = 2.0
    assert composite_slice(volume, 0, 1, grey, [blue])[0, 4].tolist() == [127, 127, 127]


def test_slices_along_every_axis():
    volume = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    grey = GreyWindow(level=12, width=24)
    for axis, n in enumerate(volume.shape):
        plane = composite_slice(volume, axis, n - 1, grey)
        assert np.array_equal(plane[..., 0], grey(take_slice(volume, axis, n - 1)))
