"""The embedding cache (LRU, threads) and the slice <-> encoder-input geometry, without a model."""

import threading
import time

import numpy as np
import pytest
import torch

from ctrg_desktop.segmentation import ARCHITECTURES, EmbeddingCache, SegmentationError, SliceKey
from ctrg_desktop.segmentation.transforms import InputGeometry, encoder_input, logits_to_slice, window_unit

LITE, SAM_B, MEDSAM = ARCHITECTURES["litemedsam"], ARCHITECTURES["vit_b"], ARCHITECTURES["medsam"]


def test_lru_evicts_the_least_recently_used_and_counts_hits():
    cache = EmbeddingCache(max_items=2)
    a, b, c = (SliceKey("s", 0, n, (40.0, 400.0)) for n in range(3))
    cache.put(a, "A")
    cache.put(b, "B")
    assert cache.get(a) == "A"          # a is now the most recent
    cache.put(c, "C")                   # evicts b
    assert b not in cache and a in cache and c in cache and len(cache) == 2
    assert cache.get(b) is None
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.keys() == [a, c]
    cache.put(SliceKey("other", 0, 0, (40.0, 400.0)), "O")
    assert cache.discard("other") == 1 and len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        EmbeddingCache(0)


def test_get_or_compute_runs_once_while_other_threads_wait():
    cache = EmbeddingCache(4)
    calls, results = [], []
    started = threading.Event()

    def slow():
        calls.append(threading.get_ident())
        started.set()
        time.sleep(0.3)
        return "embedding"

    def worker():
        results.append(cache.get_or_compute(("study", 0, 5), slow))

    first = threading.Thread(target=worker)
    first.start()
    started.wait(5)
    others = [threading.Thread(target=worker) for _ in range(3)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(10)
    assert results == ["embedding"] * 4 and len(calls) == 1
    assert cache.misses == 1 and cache.hits == 3


def test_a_failed_computation_is_not_cached_and_releases_waiters():
    cache = EmbeddingCache(4)

    def boom():
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", boom)
    assert "k" not in cache
    assert cache.get_or_compute("k", lambda: 7) == 7


def test_window_maps_level_minus_half_width_to_0_and_plus_to_1():
    hu = np.array([[-1000, -160, 40], [240, 1000, 40]], dtype=np.int16)
    out = window_unit(hu, (40, 400))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0, 0.5], [1, 1, 0.5]])
    for bad in ((40, 0), (40, -5), "wide", (np.nan, 400)):
        with pytest.raises(SegmentationError):
            window_unit(hu, bad)


@pytest.mark.parametrize("shape, resized, sam", [((40, 90), (114, 256), (455, 1024)), ((90, 40), (256, 114), (1024, 455)),
                                                 ((512, 512), (256, 256), (1024, 1024)),
                                                 ((64, 64), (256, 256), (1024, 1024))])
def test_longest_side_geometry(shape, resized, sam):
    g = InputGeometry.for_slice(shape, LITE)
    assert g.resized == resized and g.size == 256
    assert InputGeometry.for_slice(shape, SAM_B).resized == sam
    assert InputGeometry.for_slice(shape, MEDSAM).resized == (1024, 1024)


def test_prompt_coordinates_scale_with_pixel_edges_and_centres():
    g = InputGeometry.for_slice((64, 64), LITE)          # 4x up
    np.testing.assert_allclose(g.points_to_input([(0, 0), (63, 10)]), [(1.5, 1.5), (253.5, 41.5)])
    # pixels 10..19 cover input pixels 40..79
    np.testing.assert_allclose(g.box_to_input((10, 2, 19, 3)), (40, 8, 79, 15))
    full = InputGeometry.for_slice((40, 90), LITE).box_to_input((0, 0, 89, 39))
    np.testing.assert_allclose(full, (0, 0, 255, 113), atol=0.1)


def test_encoder_input_pads_bottom_right_and_keeps_orientation():
    hu = np.full((40, 90), -1000.0, dtype=np.float32)
    hu[5:15, 60:80] = 1000.0                              # bright block: rows 5..14, cols 60..79
    x, g = encoder_input(hu, (40, 400), LITE, "cpu")
    assert x.shape == (1, 3, 256, 256) and g.resized == (114, 256)
    bright = x[0, 0] > 0.5
    rows, cols = np.nonzero(bright.numpy())
    assert 13 <= rows.min() <= 15 and 41 <= rows.max() <= 43 and 170 <= cols.min() <= 171 and 226 <= cols.max() <= 228
    assert float(x[0, :, 114:].abs().max()) == 0.0        # padding below the image
    xs, _ = encoder_input(hu, (40, 400), SAM_B, "cpu")
    assert xs.shape == (1, 3, 1024, 1024)
    assert float(xs[0, 0, 0, 0]) == pytest.approx(-123.675 / 58.395, abs=1e-4)   # black in ImageNet units
    with pytest.raises(SegmentationError, match="2D"):
        encoder_input(np.zeros((3, 4, 5)), (40, 400), LITE, "cpu")


def test_logits_come_back_on_the_slice_pixels():
    g = InputGeometry.for_slice((40, 90), LITE)
    low = torch.full((1, 1, 256, 256), -10.0)
    low[..., 14:43, 171:228] = 10.0                       # the block above, in input pixels
    mask = (logits_to_slice(low, g) > 0).numpy()
    assert mask.shape == (40, 90)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 14, 60, 79)
