"""CPU slice compositing: grey window like VTK's, label/heat colours, opacity, order, thresholds."""

import numpy as np

from ctrg_desktop.overlays import HeatmapLayer, LabelMapLayer
from ctrg_desktop.overlays.composite import GreyWindow, SliceCompositor, composite_slice, take_slice


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


def _random_stack(rng, shape=(3, 6, 7), labels=3):
    volume = rng.integers(-1200, 1500, shape).astype(np.int16)
    label_map = LabelMapLayer(rng.integers(0, labels, shape).astype(np.uint8), opacity=0.4)
    heat = rng.random(shape).astype(np.float32)
    heat[0, 0, :3] = (np.nan, -5.0, 7.0)  # NaN and out of range clamp
    heat_layer = HeatmapLayer(heat, colormap="hot", threshold=0.5, range=(0, 1), opacity=0.5)
    return volume, label_map, heat_layer


def test_slice_compositor_matches_composite_slice_as_rgba():
    rng = np.random.default_rng(3)
    volume, labels, heat = _random_stack(rng)
    grey = GreyWindow(level=-600, width=1500)
    compositor = SliceCompositor()
    for layers in ([], [labels], [heat], [labels, heat], [heat, labels]):
        for axis, n in enumerate(volume.shape):
            blends = {}
            expected = composite_slice(volume, axis, n - 1, grey, layers, blends)
            out = np.zeros(expected.shape[:2] + (4,), np.uint8)
            got = compositor(volume, axis, n - 1, grey, layers, blends, out=out)
            assert got is out
            assert np.array_equal(out[..., :3], expected)
            assert (out[..., 3] == 255).all()


def test_slice_compositor_labels_past_the_table_float_volumes_and_fallback():
    rng = np.random.default_rng(4)
    volume, labels, heat = _random_stack(rng, labels=4)
    grey = GreyWindow(level=0, width=2000)
    blends = {}
    compositor = SliceCompositor()
    compositor(volume, 0, 1, grey, [labels, heat], blends)  # tables built for labels 0..3
    labels.array[1, 0, 0] = 9  # a label added in place, after the tables: drawn transparent
    expected = composite_slice(volume, 0, 1, grey, [labels, heat], blends)
    assert np.array_equal(compositor(volume, 0, 1, grey, [labels, heat], blends)[..., :3], expected)
    floats = volume.astype(np.float32)  # no lookup table for float grey
    assert np.array_equal(compositor(floats, 2, 0, grey, [heat])[..., :3], composite_slice(floats, 2, 0, grey, [heat]))
    small = SliceCompositor(max_table=256)  # too big a stack table: layer by layer, then packed
    assert np.array_equal(small(volume, 1, 2, grey, [labels, heat])[..., :3],
                          composite_slice(volume, 1, 2, grey, [labels, heat]))
    many = LabelMapLayer(rng.integers(0, 300, volume.shape).astype(np.uint16), opacity=0.7)  # > 256 rows
    assert np.array_equal(compositor(volume, 0, 2, grey, [many, heat])[..., :3],
                          composite_slice(volume, 0, 2, grey, [many, heat]))
    labels.visible = False
    heat.opacity = 0.0
    grey_only = compositor(volume, 0, 2, grey, [labels, heat])
    assert np.array_equal(grey_only[..., :3], np.repeat(grey(volume[2])[..., None], 3, axis=2))


def test_many_heat_maps_in_their_own_colours_blend_layer_by_layer():
    """Ten structures shown at once ("All"): 256**11 table keys would overflow int64; the
    compositor must blend them one by one, each in its single-hue ``#rrggbb`` map."""
    from ctrg_desktop.overlays.colormaps import colormap_table

    rng = np.random.default_rng(0)
    volume = rng.integers(-1000, 1000, (3, 8, 8)).astype(np.int16)
    colours = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rng.integers(0, 256, (10, 3))]
    layers = [HeatmapLayer(rng.random((3, 8, 8)).astype(np.float32), colormap=c, threshold=0.5, opacity=0.45)
              for c in colours]
    grey = GreyWindow(40, 400)
    out = SliceCompositor()(volume, 0, 1, grey, layers, {})
    np.testing.assert_array_equal(out[..., :3], composite_slice(volume, 0, 1, grey, layers, {}))
    middle = colormap_table(colours[0])[128]
    np.testing.assert_allclose(middle, [int(colours[0][n:n + 2], 16) / 255 for n in (1, 3, 5)], atol=0.01)
