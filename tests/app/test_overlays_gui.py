"""Overlay layers drawn from the pure model: colours where the mask is, toggles, boxes, 3D."""

import numpy as np
import pytest

from ctrg_desktop.overlays import BoxLayer, HeatmapLayer, LabelMapLayer
from tests.app.conftest import sample, screen_pixels

pytestmark = pytest.mark.gui


@pytest.fixture
def opened(window, simple_study):
    volume, lungs, path = simple_study
    assert window.open_study(path)
    window.set_crosshair_visible(False)
    window.set_preset("mediastinum")
    return window, lungs


def _is_red(rgb):
    rgb = np.asarray(rgb, int)
    return (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)


def test_label_overlay_colour_appears_and_toggles(opened):
    window, lungs = opened
    axial = window.slice_views["axial"]
    k = window.state.cursor[0]
    inside, outside = sample(lungs[k], k), sample(~lungs[k] & (window.volume.array[k] > 0), k)
    layer = window.layers.add(LabelMapLayer(lungs.astype(np.uint8), colours={1: (1, 0, 0)},
                                            names={1: "lung"}, name="lungs", opacity=1.0))
    axial.render_now()
    assert _is_red(screen_pixels(axial, inside)).mean() > 0.9
    assert _is_red(screen_pixels(axial, outside)).mean() < 0.05
    window.layer_panel.set_checked("lungs", False)  # the user unticks it
    assert not layer.visible
    axial.render_now()
    assert _is_red(screen_pixels(axial, inside)).mean() == 0
    window.layer_panel.set_checked("lungs", True)
    window.layer_panel.opacity.setValue(50)
    assert layer.opacity == 0.5
    axial.render_now()
    half = screen_pixels(axial, inside).astype(int)
    assert np.median(half[:, 0]) > 100 and np.median(half[:, 1]) < 60  # red over black lung


def test_heatmap_threshold_and_boxes(opened):
    window, lungs = opened
    coronal = window.slice_views["coronal"]
    j = window.state.cursor[1]
    heat = np.zeros(window.volume.shape, np.float32)
    heat[:, :, 32:] = 1.0  # patient-left half hot
    window.layers.add(HeatmapLayer(heat, colormap="reds", threshold=0.5, range=(0, 1), name="attention",
                                   opacity=1.0))
    window.layers.add(BoxLayer([(10, 30, 0, 64, 5, 15, (0.0, 1.0, 0.0), "box")], name="boxes"))
    coronal.render_now()
    pixels = coronal.grab_array().astype(int)
    left = screen_pixels(coronal, [(20, j, 50)])[0]
    right = screen_pixels(coronal, [(20, j, 20)])[0]
    assert _is_red(left) and not _is_red(right)
    x0, y0 = coronal.world_to_display(window.volume.voxel_to_world((20, j, 4.5)))
    column = pixels[int(y0) - 3:int(y0) + 4, int(round(x0)) - 2:int(round(x0)) + 3]
    assert ((column[..., 1] > 150) & (column[..., 0] < 100)).any()  # the green box edge
    window.layers["attention"].threshold = 2.0  # everything below: transparent
    coronal.render_now()
    assert not _is_red(screen_pixels(coronal, [(20, j, 50)])[0])
    assert window.layer_panel.list.count() == 2


def test_overlays_in_3d_view(opened):
    window, lungs = opened
    view = window.volume_view
    window.set_volume_preset("mip")
    before = view.grab_array()
    window.layers.add(LabelMapLayer(lungs.astype(np.uint8), colours={1: (0, 0, 1)}, name="lungs", opacity=1.0))
    after = view.grab_array().astype(int)
    blue = (after[..., 2] > 120) & (after[..., 0] < 80)
    assert blue.mean() > 0.01 and blue.mean() > ((before[..., 2] > 120) & (before[..., 0] < 80)).mean()
    window.layers.set_visible("lungs", False)
    hidden = view.grab_array().astype(int)
    assert ((hidden[..., 2] > 120) & (hidden[..., 0] < 80)).mean() < blue.mean() / 5


def test_new_study_clears_overlays(opened, simple_study):
    window, lungs = opened
    window.layers.add(LabelMapLayer(lungs.astype(np.uint8), name="lungs"))
    assert window.open_study(simple_study[2])
    assert len(window.layers) == 0 and window.layer_panel.list.count() == 0


def test_masks_only_preset_shows_the_mask_surfaces_without_the_volume(opened, simple_study):
    """The "masks only" 3D preset: no volume rendered, the mask's surface alone (in its colour),
    listed beside the other presets, its corner text counting the surfaces; back to a volume preset."""
    import os
    from pathlib import Path

    window, lungs = opened
    view = window.volume_view
    assert "masks only" in window.volume_preset_box_items()
    window.set_volume_preset("soft tissue")
    volume_only = view.grab_array().astype(int)
    background = volume_only[2, 2]
    body = (np.abs(volume_only - background).sum(axis=-1) > 30).mean()
    assert body > 0.05  # the soft-tissue rendering covers the body
    window.set_volume_preset("masks only")
    assert not view.volume_shown and view.info.actor.GetInput() == "3D  masks only (no mask to show)"
    empty = view.grab_array().astype(int)
    # nothing but the background and the corner decorations (orientation cube, text)
    assert (np.abs(empty - background).sum(axis=-1) > 30).mean() < 0.05
    window.layers.add(LabelMapLayer(lungs.astype(np.uint8), colours={1: (0, 0, 1)}, name="mask: lungs", opacity=1.0))
    assert view.info.actor.GetInput() == "3D  masks only (1 surface)"
    shown = view.grab_array().astype(int)
    blue = (shown[..., 2] > 100) & (shown[..., 0] < 60) & (shown[..., 1] < 60)
    warm = (shown[..., 0] > shown[..., 2] + 40)  # the soft-tissue colours (orange-brown): none now
    assert blue.mean() > 0.01 and warm.mean() < 0.002
    if os.environ.get("CTRG_SHOT_DIR"):
        window.layout_widget.set_layout("single", focus="3d")
        window.layout_widget.views["3d"].render_now()
        window.save_screenshot(Path(os.environ["CTRG_SHOT_DIR"]) / "i13_masks_only_3d.png", "3d")
        window.set_layout("2x2")
    window.set_volume_preset("soft tissue")
    assert view.volume_shown and view.info.actor.GetInput() == "3D  soft tissue"
    assert window.settings["volume_preset"] in window.volume_preset_box_items()
