"""Pure array functions for the model: resample, crop/pad, HU windows, patch <-> study maps."""

from ctrg_desktop.imaging.crop import centre_offsets, crop_or_pad
from ctrg_desktop.imaging.patches import PatchGrid, map_box_to_study
from ctrg_desktop.imaging.pipeline import PreparedVolume, prepare_volume
from ctrg_desktop.imaging.resample import resample_labels, resample_to_spacing
from ctrg_desktop.imaging.window import CTCLIP_WINDOW, PAPER_WINDOW, HUWindow

__all__ = [
    "CTCLIP_WINDOW", "HUWindow", "PAPER_WINDOW", "PatchGrid", "PreparedVolume", "centre_offsets",
    "crop_or_pad", "map_box_to_study", "prepare_volume", "resample_labels", "resample_to_spacing",
]
