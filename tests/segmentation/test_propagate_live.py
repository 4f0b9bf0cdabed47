"""Propagation as the GUI sees it, with a stand-in segmenter (a threshold inside the prompt box,
no torch): both directions in turn, each slice handed over as soon as it is added, embeddings
computed ahead of the front by background threads (same result), cancel keeping the slices done."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from ctrg_desktop.segmentation.cache import EmbeddingCache
from ctrg_desktop.segmentation.propagate import PropagationCancelled, propagate, visiting_order


class ThresholdSegmenter:
    """Embeds a slice by sleeping ``delay`` seconds (the encoder's cost) and keeping the pixels;
    "predicts" the pixels under ``threshold`` HU inside the box."""

    def __init__(self, delay: float = 0.0, threshold: float = -500.0):
        self.delay, self.threshold = delay, threshold
        self.cache = EmbeddingCache(64)
        self.embedded: list[tuple[int, str]] = []  # (slice index, thread name) per encoder run
        self.asked: list[int] = []                 # slices the propagation loop asked for, in order
        self.ready_when_asked: list[bool] = []     # was the embedding cached (or under way) when asked?
        self._lock = threading.Lock()

    @property
    def encoder_calls(self) -> int:
        return len(self.embedded)

    def embed(self, image, window=None, *, key=None):
        def compute():
            time.sleep(self.delay)
            with self._lock:
                self.embedded.append((None if key is None else key[2], threading.current_thread().name))
            return np.asarray(image, dtype=np.float32)

        if key is None:
            return compute()
        if threading.current_thread() is threading.main_thread():
            self.asked.append(key[2])
            with self._lock:
                ahead = any(index == key[2] for index, _ in self.embedded)
            self.ready_when_asked.append(ahead or key in self.cache._pending)
        return self.cache.get_or_compute(key, compute)

    def predict_scored(self, image, points=None, box=None):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask = np.zeros(image.shape, dtype=bool)
        region = (slice(max(y0, 0), y1 + 1), slice(max(x0, 0), x1 + 1))
        mask[region] = image[region] < self.threshold
        return SimpleNamespace(mask=mask, score=1.0, stability=1.0)


@pytest.fixture(scope="module")
def blob():
    """A -800 HU cylinder (an elliptic cross-section drifting sideways) on slices 6..24 of a
    32 x 40 x 40 volume of 40 HU; start slice 15."""
    k, j, i = np.mgrid[0:32, 0:40, 0:40]
    inside = (((j - 20) / 9.0) ** 2 + ((i - 14 - 0.4 * k) / 7.0) ** 2 < 1) & (k >= 6) & (k <= 24)
    volume = np.where(inside, -800.0, 40.0).astype(np.float32)
    slices = np.flatnonzero(inside.any(axis=(1, 2))).tolist()
    return volume, inside, slices


def test_the_visiting_order_alternates_directions():
    assert visiting_order(10, {1: 3, -1: 2}) == [(1, 1), (-1, 1), (1, 2), (-1, 2), (1, 3)]
    assert visiting_order(0, {1: 2, -1: 0}) == [(1, 1), (1, 2)]
    assert visiting_order(0, {}) == []


def test_each_slice_is_handed_over_as_it_is_added_both_sides_in_turn(blob):
    volume, inside, slices = blob
    seen, progress = [], []
    out = propagate(volume, 0, 15, inside[15], ThresholdSegmenter(), study_key="blob",
                    on_slice=lambda index, mask: seen.append((index, mask.copy(), len(progress))),
                    progress=lambda done, planned: progress.append((done, planned)))
    assert np.flatnonzero(out.any(axis=(1, 2))).tolist() == slices
    assert np.array_equal(out, inside)
    indices = [index for index, _, _ in seen]
    assert sorted(indices + [15]) == slices
    assert indices[:6] == [16, 14, 17, 13, 18, 12]                 # outwards, one side then the other
    for index, mask, reported in seen:
        assert np.array_equal(mask, inside[index]) and reported >= 1  # progress first, then the slice
    assert progress[-1][0] == progress[-1][1] == len(slices) + 1   # the two end slices are visited too


def test_embedding_ahead_gives_the_same_mask_and_embeds_before_the_loop_asks(blob):
    volume, inside, slices = blob
    plain = ThresholdSegmenter(delay=0.02)
    reference = propagate(volume, 0, 15, inside[15], plain, study_key="blob")
    ahead = ThresholdSegmenter(delay=0.02)
    out = propagate(volume, 0, 15, inside[15], ahead, study_key="blob", ahead=2, ahead_threads=2)
    assert np.array_equal(out, reference)
    assert len(ahead.embedded) == len(set(i for i, _ in ahead.embedded))  # no slice embedded twice
    visited = len(slices) + 1                                            # + the two end slices - start
    assert visited <= ahead.encoder_calls <= visited + 2 * 2             # past an end: at most `ahead`
    threads = {name for _, name in ahead.embedded}
    assert any(name.startswith("ctrg-embed-ahead") for name in threads)
    assert sum(ahead.ready_when_asked) >= len(ahead.asked) - 2            # all but the first are ahead
    time.sleep(0.1)  # the threads end on their own after the propagation
    assert not [t for t in threading.enumerate() if t.name.startswith("ctrg-embed-ahead")]


def test_embedding_ahead_stops_at_a_directions_end(blob):
    volume, inside, _ = blob
    seg = ThresholdSegmenter()
    propagate(volume, 0, 15, inside[15], seg, study_key="blob", ahead=3, directions=(1,))
    assert max(i for i, _ in seg.embedded) <= 25 + 3  # the end is slice 25; at most 3 embedded past it


def test_cancel_keeps_the_slices_done_and_stops_embedding(blob):
    volume, inside, slices = blob
    seg = ThresholdSegmenter(delay=0.01)
    seen = []
    with pytest.raises(PropagationCancelled) as info:
        propagate(volume, 0, 15, inside[15], seg, study_key="blob", ahead=2,
                  on_slice=lambda index, mask: seen.append(index), cancel=lambda: len(seen) >= 3)
    kept = np.flatnonzero(info.value.mask.any(axis=(1, 2))).tolist()
    assert kept == sorted([15, *seen]) and len(seen) == 3 and len(kept) < len(slices)
    assert seg.encoder_calls <= 3 + 2 + 1


def test_the_fused_channels_last_encoder_embeds_as_the_network_does(lite_segmenter):
    """LiteMedSAM's encoder with its BatchNorms folded, in channels-last memory format (the faster
    default on a CPU): the same embedding as the network as loaded, to float rounding."""
    import torch

    from ctrg_desktop.segmentation.segmenter import fused_encoder
    from ctrg_desktop.segmentation.transforms import LUNG_WINDOW, encoder_input

    seg = lite_segmenter
    assert seg.channels_last and seg.encoder is not seg.network.image_encoder
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in seg.encoder.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in seg.network.image_encoder.modules())  # untouched
    image = np.random.default_rng(0).normal(-300, 400, (90, 120)).astype(np.float32)
    x, _ = encoder_input(image, LUNG_WINDOW, seg.spec, seg.device)
    with torch.inference_mode():
        plain = seg.network.image_encoder(x)
    fast = seg.embed(image, LUNG_WINDOW).features
    assert fast.shape == plain.shape and fast.is_contiguous()
    assert float((fast - plain).norm() / plain.norm()) < 1e-4
    vit = torch.nn.Sequential(torch.nn.Linear(4, 4))  # nothing to fold: no copy is made
    assert fused_encoder(vit) is vit
