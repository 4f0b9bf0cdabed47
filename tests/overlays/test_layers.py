"""The pure overlay model: layers, events, colour tables, the layer list."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctrg_desktop.overlays import (COLORMAPS, Box, BoxLayer, HeatmapLayer, LabelMapLayer, LayerList,
                                   colormap_table)


def _labels():
    a = np.zeros((4, 5, 6), np.uint8)
    a[1:3, 1:3, 1:3] = 2
    return a


def test_label_layer_table_and_events():
    layer = LabelMapLayer(_labels(), colours={2: (1, 0, 0)}, names={2: "lung"}, name="seg")
    table = layer.rgba_table()
    assert table.shape == (3, 4)
    assert table[0, 3] == 0 and tuple(table[2]) == (1, 0, 0, 1)
    seen = []
    layer.changed.connect(lambda layer, what: seen.append(what))
    layer.visible = False
    layer.visible = False  # no change, no event
    layer.opacity = 0.3
    layer.set_colour(1, (0, 1, 0))
    assert seen == ["visible", "opacity", "style"]
    with pytest.raises(ValueError):
        layer.opacity = 1.5
    with pytest.raises(ValueError):
        LabelMapLayer(np.zeros((4, 5), np.uint8))


def test_heatmap_threshold_makes_low_values_transparent():
    heat = HeatmapLayer(np.linspace(0, 1, 120, dtype=np.float32).reshape(4, 5, 6), colormap="jet",
                        threshold=0.5)
    assert heat.range == (0.0, 1.0)
    table = heat.rgba_table(256)
    assert table[:127, 3].max() == 0 and table[128:, 3].min() == 1
    assert heat.visible_mask().sum() == (heat.array >= 0.5).sum()
    with pytest.raises(ValueError):
        heat.colormap = "nope"
    with pytest.raises(ValueError):
        heat.range = (1, 1)


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormaps_are_valid_tables(name):
    table = colormap_table(name, 64)
    assert table.shape == (64, 3) and table.min() >= 0 and table.max() <= 1


def test_boxes_on_slice():
    layer = BoxLayer([(2, 4, 0, 3, 1, 5), Box(0, 1, 0, 1, 0, 1, colour=(0, 1, 0), label="a")])
    assert [b.label for b, _ in layer.boxes_on_slice(0, 0)] == ["a"]
    (box, corners), = layer.boxes_on_slice(0, 3)
    assert corners.tolist() == [[3, -0.5, 0.5], [3, 2.5, 4.5]]
    assert layer.boxes_on_slice(2, 5) == []
    with pytest.raises(ValueError):
        Box(1, 1, 0, 1, 0, 1)


def test_layer_list_add_move_remove_and_forwarding():
    layers = LayerList(shape=(4, 5, 6))
    events = []
    for name in ("inserted", "removed", "moved", "layer_changed"):
        getattr(layers, name).connect(lambda name=name, **kw: events.append((name, kw.get("what"))))
    seg = layers.add(LabelMapLayer(_labels(), name="seg"))
    layers.add(HeatmapLayer(np.zeros((4, 5, 6)), name="attn"))
    layers.add(BoxLayer([], name="boxes"), index=0)
    assert layers.names == ["boxes", "seg", "attn"]
    layers.move("attn", 0)
    assert layers.names == ["attn", "boxes", "seg"]
    layers.set_visible("seg", False)
    layers.set_opacity("attn", 0.2)
    assert not layers["seg"].visible and layers["attn"].opacity == 0.2
    layers.remove(seg)
    seg.visible = True  # no longer forwarded
    assert "seg" not in layers and len(layers) == 2
    assert events == [("inserted", None)] * 3 + [("moved", None), ("layer_changed", "visible"),
                                                 ("layer_changed", "opacity"), ("removed", None)]
    with pytest.raises(ValueError):
        layers.add(LabelMapLayer(np.zeros((2, 2, 2), np.uint8), name="bad"))
    with pytest.raises(KeyError):
        layers["missing"]


def test_adding_same_name_replaces_in_place():
    layers = LayerList()
    layers.add(BoxLayer([], name="a"))
    layers.add(BoxLayer([], name="b"))
    new = layers.add(BoxLayer([], name="a"))
    assert layers.names == ["a", "b"] and layers["a"] is new


@given(st.lists(st.integers(0, 4), min_size=1, max_size=12))
def test_moves_keep_the_same_layers(moves):
    layers = LayerList()
    for n in range(5):
        layers.add(BoxLayer([], name=str(n)))
    for n, target in enumerate(moves):
        layers.move(n % 5, target)
    assert sorted(layers.names) == [str(n) for n in range(5)]
