"""Centre crop / pad to a target grid, keeping world coordinates of every kept voxel."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.io.volume import Volume


def centre_offsets(shape, target_shape) -> tuple[int, int, int]:
    """Index in the source grid of the target grid's voxel 0, per axis (negative = padding).

    ``target[k] = source[k + offset]``; e.g. 100 -> 80 gives offset 10, 80 -> 100 gives -10.
    """
    return tuple((int(n) - int(t)) // 2 for n, t in zip(shape, target_shape))


def crop_or_pad(volume: Volume, target_shape, pad_value: float = -1024.0,
                offsets=None) -> tuple[Volume, tuple[int, int, int]]:
    """Centre-crop or pad ``volume`` to ``target_shape`` (D, H, W); returns (volume, offsets).

    ``offsets`` (from :func:`centre_offsets` by default) is where the new grid starts in the
    old one, so ``new.voxel_to_world(p) == old.voxel_to_world(p + offsets)`` for every voxel.
    """
    target = tuple(int(t) for t in target_shape)
    if len(target) != 3 or min(target) < 1:
        raise ValueError(f"target shape must be three positive sizes, got {target_shape}")
    offsets = centre_offsets(volume.shape, target) if offsets is None else tuple(int(o) for o in offsets)
    out = np.full(target, pad_value, dtype=volume.array.dtype)
    src, dst = [], []
    for n, t, o in zip(volume.shape, target, offsets):
        s0, s1 = max(o, 0), min(o + t, n)
        if s1 <= s0:  # no overlap on this axis: all padding
            s0 = s1 = 0
        src.append(slice(s0, s1))
        dst.append(slice(s0 - o, s0 - o + (s1 - s0)))
    out[tuple(dst)] = volume.array[tuple(src)]
    origin = tuple(volume.voxel_to_world(np.asarray(offsets, dtype=np.float64)))
    return volume.with_array(out, origin=origin), offsets
