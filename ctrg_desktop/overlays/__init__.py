"""Overlay layers as pure data (no Qt, no VTK): the GUI renders them and listens to their events."""

from ctrg_desktop.overlays.colormaps import COLORMAPS, colormap_table, label_colour
from ctrg_desktop.overlays.events import Event
from ctrg_desktop.overlays.layer_list import LayerList
from ctrg_desktop.overlays.layers import Box, BoxLayer, HeatmapLayer, LabelMapLayer, Layer

__all__ = ["COLORMAPS", "Box", "BoxLayer", "Event", "HeatmapLayer", "LabelMapLayer", "Layer",
           "LayerList", "colormap_table", "label_colour"]
