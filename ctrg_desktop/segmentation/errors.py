"""The segmentation package's error (no torch: the prompt and mask modules raise it too)."""

from ctrg_desktop.errors import CtrgError


class SegmentationError(CtrgError):
    """A segmenter, checkpoint or prompt that cannot be used (one readable line)."""
