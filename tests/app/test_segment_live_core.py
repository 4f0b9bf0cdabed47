"""The pieces behind the live propagation and the mask surfaces, without a window: painting slices
into a mask with no undo step and taking them out again, the grid a mask's 3D surface is cut from,
the CPU cores the segmenter worker may use."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from ctrg_desktop.app.segment.live import LivePropagation  # noqa: E402
from ctrg_desktop.segmentation.masks import MaskSet  # noqa: E402


def test_painted_slices_show_at_once_and_come_out_again_for_one_undo_step():
    masks = MaskSet((6, 8, 10))
    mask = masks.add("m")
    masks.set_slice("m", 0, 2, np.ones((8, 10), bool))
    events = []
    masks.changed.connect(lambda mask, what: events.append(what))
    state = masks.state
    live = LivePropagation(masks, mask, 0)
    plane = np.zeros((8, 10), bool)
    plane[2:5, 3:7] = True
    assert live.paint({"index": 3, "mask": plane, "done": 1, "planned": 4, "seconds": 3.0})
    assert not live.paint({"index": 2, "mask": plane, "done": 2, "planned": 4, "seconds": 6.0})  # nothing new
    assert mask.slices_used(0).tolist() == [2, 3] and events == ["data"] and masks.state == state  # no undo step
    assert live.slices == [3] and live.per_slice() == 3.0
    added = live.withdraw()
    assert mask.slices_used(0).tolist() == [2] and added.sum() == plane.sum()
    assert masks.set_volume("m", added, "add", text="propagate") == plane.sum()
    assert masks.undo() == "propagate" and mask.slices_used(0).tolist() == [2]


def test_nothing_is_painted_into_a_mask_that_left_the_set():
    masks = MaskSet((4, 5, 6))
    mask = masks.add("m")
    live = LivePropagation(masks, mask, 1)
    masks.undo()  # the mask's creation undone while it propagates
    assert not live.alive
    assert not live.paint({"index": 1, "mask": np.ones((4, 6), bool)})
    assert live.withdraw() is None and mask.voxels == 0


def test_a_mask_surface_grid_is_cut_to_the_mask_and_placed_on_the_study_grid():
    from ctrg_desktop.app.overlay_render3d import mask_surface_grid

    assert mask_surface_grid(np.zeros((5, 5, 5), np.uint8), (1, 1, 1)) is None
    mask = np.zeros((20, 30, 40), np.uint8)
    mask[4:9, 10:20, 0:25] = 1  # touches the study's edge at i = 0
    image, origin, spacing = mask_surface_grid(mask, (3.0, 2.0, 1.0))
    assert image.dtype == np.float32 and image.shape == (5 + 4, 10 + 4, 25 + 4)
    assert spacing == (3.0, 2.0, 1.0) and origin == (2 * 3.0, 8 * 2.0, -2 * 1.0)
    assert image[0].max() < 0.5 and image[:, :, 0].max() < 0.5                  # closed at the edge too
    inside = image[2 + 2, 2 + 5, 2 + 12]
    assert inside > 0.99 and image.max() <= 1.0
    thin = np.zeros((10, 10, 10), np.uint8)
    thin[5, 2:8, 2:8] = 1  # one slice thick: still a (thin) surface
    assert mask_surface_grid(thin, (1, 1, 1))[0].max() > 0.5
    big = np.zeros((4, 4, 600), np.uint8)
    big[1:3, 1:3, 10:590] = 1
    image, origin, spacing = mask_surface_grid(big, (1.0, 1.0, 0.5), max_dim=256)
    assert spacing == (1.0, 1.0, 1.5) and image.shape[2] == -(-580 // 3) + 4  # blocks of 3 along i
    assert origin[2] == pytest.approx((10 + 1 - 2 * 3) * 0.5)                 # block centres on the grid


def test_usable_cores_never_exceed_the_affinity_mask():
    import os

    from ctrg_desktop.app.segment.process import SegmenterProcess, usable_cores

    cores = usable_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert cores <= len(os.sched_getaffinity(0))
    assert SegmenterProcess().torch_threads == max(1, cores - 1)
