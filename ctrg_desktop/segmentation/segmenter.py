"""Prompt a SAM-style network on one CT slice: embed once, then masks from points and boxes.

Plain numpy in and out: ``embed(image_hu, window)`` runs the image encoder (the slow part,
cached per :class:`SliceKey`), ``predict(source, points, box)`` runs the prompt encoder and
mask decoder (milliseconds) and returns a bool mask on the slice's own pixels. Prompt
coordinates follow :mod:`ctrg_desktop.segmentation.transforms`: points ``(x, y, positive)`` and
boxes ``(x0, y0, x1, y1)`` with ``x`` = column, ``y`` = row, pixel centres at integers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ctrg_desktop.devices import resolve_device
from ctrg_desktop.segmentation.architectures import ArchSpec, SegmentationError, arch_spec
from ctrg_desktop.segmentation.cache import EmbeddingCache, SliceKey
from ctrg_desktop.segmentation.prompts import region_box
from ctrg_desktop.segmentation.transforms import (
           InputGeometry,
           encoder_input,
           logits_to_slice,
           normalise_window,
           window_unit,
)


@dataclass
class Embedding:
    """The image encoder's output for one slice, with what is needed to map prompts and masks."""

    features: torch.Tensor = field(repr=False)  #: (1, 256, 64, 64) on the segmenter's device
    geometry: InputGeometry
    unit: np.ndarray = field(repr=False)        #: the windowed slice, uint8 0..255 (H, W)
    window: tuple[float, float]
    segmenter: str
    key: SliceKey | None = None
    seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the slice it was computed from."""
        return self.geometry.original


@dataclass
class MaskPrediction:
    """A mask with the network's own confidence in it."""

    mask: np.ndarray     #: bool (H, W)
    score: float         #: the decoder's predicted IoU
    stability: float     #: SAM's stability score: area(logits > 1) / area(logits > -1), 0 when empty


def _stability(logits: np.ndarray) -> float:
    loose = int((logits > -1.0).sum())
    return float((logits > 1.0).sum()) / loose if loose else 0.0


class Segmenter:
    """A loaded segmenter (use :func:`load_segmenter`); safe to embed from a worker thread."""

    def __init__(self, network, kind: str, name: str, device="cpu", default_window=(40.0, 400.0),
                 cache: EmbeddingCache | None = None, config: dict | None = None, fuse: bool = True):
        self.spec: ArchSpec = arch_spec(kind)
        self.kind = kind
        self.name = name
        self.device = resolve_device(device, error=SegmentationError)
        self.network = network.to(self.device).eval()
        #: the image encoder that embeds: with ``fuse``, a copy with its BatchNorms folded (:func:`fused_encoder`)
        self.encoder = fused_encoder(self.network.image_encoder) if fuse else self.network.image_encoder
        #: a folded (convolutional, TinyViT) encoder on the CPU runs in channels-last memory format:
        #: about 15% less time a slice again (``benchmarks/run.py propagate``), the same masks
        self.channels_last = self.encoder is not self.network.image_encoder and self.device.type == "cpu"
        if self.channels_last:
            self.encoder = self.encoder.to(memory_format=torch.channels_last)
        self.default_window = normalise_window(default_window)
        self.cache = cache if cache is not None else EmbeddingCache()
        self.config = dict(config or {})
        self._count_lock = threading.Lock()
        self.encoder_calls = 0  #: image-encoder runs so far (cache hits do not count)

    def __repr__(self) -> str:
        return f"Segmenter({self.name!r}, kind={self.kind!r}, device={str(self.device)!r})"

    # ------------------------------------------------------------------------------------ embed

    def slice_key(self, study, axis: int, index: int, window=None) -> SliceKey:
        """The cache key of slice ``index`` along ``axis`` of ``study`` seen through ``window``."""
        if int(axis) not in (0, 1, 2):
            raise SegmentationError(f"axis is 0 (axial), 1 (coronal) or 2 (sagittal), got {axis!r}")
        window = self.default_window if window is None else normalise_window(window)
        return SliceKey(study, int(axis), int(index), window)

    def embed(self, image2d_hu, window=None, *, key=None) -> Embedding:
        """Run the image encoder on a 2D HU slice (``window`` = (level, width), default soft tissue).

        ``key``: ``(study, axis, index)`` or a :class:`SliceKey` (whose window is used when
        ``window`` is None); with one the embedding is cached and a second call for the same
        slice and window returns it without re-embedding.
        """
        if isinstance(key, SliceKey):
            window = key.window if window is None else normalise_window(window)
            full = key._replace(window=window)
        else:
            window = self.default_window if window is None else normalise_window(window)
            full = None if key is None else self.slice_key(*key, window=window)
        if full is None:
            return self._embed(image2d_hu, window, None)
        return self.cache.get_or_compute(full, lambda: self._embed(image2d_hu, window, full))

    def _embed(self, image2d_hu, window, key) -> Embedding:
        start = time.perf_counter()
        x, geometry = encoder_input(image2d_hu, window, self.spec, self.device)
        with torch.inference_mode():
            if self.channels_last:
                features = self.encoder(x.contiguous(memory_format=torch.channels_last)).contiguous()
            else:
                features = self.encoder(x)
        with self._count_lock:
            self.encoder_calls += 1
        unit = np.round(window_unit(image2d_hu, window) * 255.0).astype(np.uint8)
        return Embedding(features, geometry, unit, window, self.name, key, time.perf_counter() - start)

    def cached(self, key) -> Embedding | None:
        """The cached embedding of ``key`` (a :class:`SliceKey`) or None."""
        return self.cache.get(key)

    # ---------------------------------------------------------------------------------- predict

    def _embedding_of(self, source) -> Embedding:
        if isinstance(source, Embedding):
            if source.segmenter != self.name:
                raise SegmentationError(f"this embedding was made by segmenter {source.segmenter!r}, "
                                        f"not {self.name!r}")
            return source
        if isinstance(source, np.ndarray):
            return self.embed(source)
        if isinstance(source, tuple):
            key = source if isinstance(source, SliceKey) else self.slice_key(*source)
            found = self.cache.get(key)
            if found is None:
                raise SegmentationError(f"slice {key.index} (axis {key.axis}) of study {key.study!r} has not "
                                        f"been embedded with window {key.window}; call embed first")
            return found
        raise SegmentationError(f"predict needs a 2D HU slice, an Embedding or a SliceKey, got "
                                f"{type(source).__name__}")

    def predict(self, source, points=None, box=None, *, multimask: bool | None = None) -> np.ndarray:
        """Bool mask ``(H, W)`` for the prompts on a slice.

        ``source``: a 2D HU slice (embedded now with the default window, not cached), an
        :class:`Embedding`, or a :class:`SliceKey` / ``(study, axis, index)`` already in the
        cache. ``points``: ``[(x, y, positive), ...]``; ``box``: ``(x0, y0, x1, y1)``; at
        least one of them.

        SAM ViT kinds take the points as they are (``multimask``: pick the best of SAM's three
        masks, default for a single point without a box). Box-trained kinds (LiteMedSAM, MedSAM)
        never see the points: without a box, one is grown around the positive points
        (:func:`~ctrg_desktop.segmentation.prompts.region_box`); then only the mask's connected
        parts holding a positive point are kept (all parts if none holds one) and parts holding
        a negative point are dropped.
        """
        return self.predict_scored(source, points, box, multimask=multimask).mask

    def predict_scored(self, source, points=None, box=None, *, multimask: bool | None = None) -> "MaskPrediction":
        """:meth:`predict` with the decoder's predicted IoU and SAM's stability score."""
        emb = self._embedding_of(source)
        points = _check_points(points, emb.shape)
        box = _check_box(box, emb.shape)
        if not points and box is None:
            raise SegmentationError("give at least one point or a box to segment")
        if self.spec.native_points:
            if multimask is None:
                multimask = box is None and len(points) == 1
            logits, score = self._decode(emb, points, box, bool(multimask))
            return MaskPrediction(logits > 0, score, _stability(logits))
        if box is None:
            box = region_box(emb.unit.astype(np.float32) / 255.0, points)
            if box is None:
                raise SegmentationError(f"{self.spec.title} needs a box or at least one positive point")
        logits, score = self._decode(emb, [], box, bool(multimask))
        return MaskPrediction(_components_at_points(logits > 0, points), score, _stability(logits))

    def _decode(self, emb: Embedding, points, box, multimask: bool):
        geometry = emb.geometry
        dev, net = self.device, self.network
        with torch.inference_mode():
            point_arg = box_arg = None
            if points:
                xy = geometry.points_to_input(np.asarray([(x, y) for x, y, _ in points], dtype=np.float64))
                labels = [1 if positive else 0 for _, _, positive in points]
                point_arg = (torch.as_tensor(xy, dtype=torch.float32, device=dev)[None],
                             torch.as_tensor(labels, dtype=torch.int64, device=dev)[None])
            if box is not None:
                box_arg = torch.as_tensor(geometry.box_to_input(box), dtype=torch.float32, device=dev)[None]
            sparse, dense = net.prompt_encoder(points=point_arg, boxes=box_arg, masks=None)
            low_res, iou = net.mask_decoder(image_embeddings=emb.features,
                                            image_pe=net.prompt_encoder.get_dense_pe(),
                                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                            multimask_output=multimask)
            best = int(torch.argmax(iou[0])) if low_res.shape[1] > 1 else 0
            logits = logits_to_slice(low_res[:, best:best + 1], geometry).cpu().numpy()
        return logits, float(iou[0, best])


def _check_points(points, shape) -> list[tuple[float, float, bool]]:
    height, width = shape
    out = []
    for p in [] if points is None else list(points):
        try:
            x, y, positive = p
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise SegmentationError(f"a point prompt is (x, y, positive), got {p!r}") from None
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise SegmentationError(f"point ({x:g}, {y:g}) lies outside the {width}x{height} slice "
                                    f"(x = column, y = row)")
        out.append((x, y, bool(positive)))
    return out


def _check_box(box, shape):
    if box is None:
        return None
    height, width = shape
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SegmentationError(f"a box prompt is (x0, y0, x1, y1), got {box!r}") from None
    if not all(np.isfinite([x0, y0, x1, y1])) or x1 < x0 or y1 < y0:
        raise SegmentationError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) needs x0 <= x1 and y0 <= y1")
    x0, x1 = max(x0, 0.0), min(x1, width - 1.0)
    y0, y1 = max(y0, 0.0), min(y1, height - 1.0)
    if x1 < x0 or y1 < y0:
        raise SegmentationError(f"box {tuple(box)} lies outside the {width}x{height} slice")
    return x0, y0, x1, y1


def _components_at_points(mask: np.ndarray, points) -> np.ndarray:
    """Keep the connected parts of ``mask`` with a positive point (all if none has one), drop those with a negative one."""
    if not points or not mask.any():
        return mask
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    h, w = mask.shape

    def label_at(x, y):
        return int(labels[int(round(min(max(y, 0), h - 1))), int(round(min(max(x, 0), w - 1)))])

    positive = {label_at(x, y) for x, y, p in points if p} - {0}
    negative = {label_at(x, y) for x, y, p in points if not p} - {0}
    keep = (positive or set(range(1, count + 1))) - negative
    return np.isin(labels, sorted(keep)) if keep else np.zeros_like(mask)


def fused_encoder(encoder: torch.nn.Module) -> torch.nn.Module:
    """``encoder`` for inference: a copy with every ``Sequential(Conv2d, BatchNorm2d)`` (TinyViT's
    ``Conv2d_BN``) folded into one Conv2d -- the same output to float rounding, about 6% less
    encoder time on a CPU (``benchmarks/run.py propagate``); ``encoder`` itself when it has
    none (SAM's ViTs), so no copy is made."""
    import copy

    from torch import nn

    def pairs(module):
        return [(parent, name, kids) for parent in module.modules() for name, child in parent.named_children()
                if isinstance(child, nn.Sequential) and len(kids := list(child.children())) == 2
                and isinstance(kids[0], nn.Conv2d) and isinstance(kids[1], nn.BatchNorm2d)]

    if not pairs(encoder):
        return encoder
    fused = copy.deepcopy(encoder).eval()
    for parent, name, (conv, bn) in pairs(fused):
        setattr(parent, name, nn.utils.fusion.fuse_conv_bn_eval(conv, bn))
    return fused


def load_segmenter(name: str = "litemedsam", device="cpu", *, root=None,
                   cache: EmbeddingCache | None = None, fuse: bool = True) -> Segmenter:
    """Load a segmenter by zoo name or folder (``litemedsam``, the bundled default, or an imported one);
    ``fuse``: embed with :func:`fused_encoder` (False: the network as loaded)."""
    from ctrg_desktop.segmentation.zoo import load_network

    dev = resolve_device(device, error=SegmentationError)
    network, kind, config = load_network(name, root)
    window = config.get("default_window") or (40.0, 400.0)
    return Segmenter(network, kind, str(config.get("name", name)), dev, window, cache, config, fuse=fuse)
