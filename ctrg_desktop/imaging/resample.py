"""Resampling a volume to a target voxel spacing while keeping its world geometry."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ctrg_desktop.io.sitk_bridge import volume_to_image
from ctrg_desktop.io.volume import Volume

#: The largest physical extent (mm) along any axis a CT study may have: a whole-body scan is
#: under 2 m; larger means an implausible voxel spacing in the file.
MAX_EXTENT_MM = 2000.0
#: The most voxels a resampled grid may have (2**30: 2 GiB as int16, 4 GiB as float32).
MAX_RESAMPLED_VOXELS = 1 << 30


def resampled_shape(shape, spacing, target_spacing) -> tuple[int, int, int]:
    """Grid size that covers the same extent: ``round(n * s / t)`` per axis, at least 1."""
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, target_spacing))


def check_geometry(shape, spacing, target_spacing=None) -> tuple[int, int, int] | None:
    """ValueError for an absurd study geometry; the resampled shape when ``target_spacing`` is given.

    Refused, before anything is allocated: a non-finite spacing, a physical extent over
    :data:`MAX_EXTENT_MM` along any axis, a resampled grid over :data:`MAX_RESAMPLED_VOXELS`.
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    extent = np.asarray(shape, dtype=np.float64) * spacing
    shown = " x ".join(f"{e:g}" for e in extent)
    if not np.all(np.isfinite(extent)) or extent.max() > MAX_EXTENT_MM:
        raise ValueError(f"the study spans {shown} mm ({' x '.join(map(str, shape))} voxels of "
                         f"{' x '.join(f'{s:g}' for s in spacing)} mm), more than the "
                         f"{MAX_EXTENT_MM / 1000:g} m a CT can cover: its voxel spacing is implausible")
    if target_spacing is None:
        return None
    out = resampled_shape(shape, spacing, target_spacing)
    if int(np.prod(out, dtype=np.float64)) > MAX_RESAMPLED_VOXELS:
        raise ValueError(f"resampling the study ({shown} mm) to {' x '.join(f'{t:g}' for t in target_spacing)} "
                         f"mm would make {' x '.join(map(str, out))} voxels, over the "
                         f"{MAX_RESAMPLED_VOXELS:,} a resampled grid may have")
    return out


def resample_to_spacing(volume: Volume, target_spacing, order: int = 1,
                        fill_value: float = -1024.0) -> Volume:
    """Resample to ``target_spacing`` (sk, sj, si) mm; ``order`` 0 = nearest (label maps), 1 = linear.

    The new grid has the same direction and covers the same physical extent: the outer voxel
    edges coincide (the first voxel centre moves by half the change of spacing), so world
    coordinates of anatomy are unchanged and :meth:`Volume.world_to_voxel` maps between grids.
    Example: (191, 167, 233) at 1.5 mm -> (96, 84, 117) at 3 mm. Absurd geometry (see
    :func:`check_geometry`) raises ValueError before anything is allocated.
    """
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (linear), got {order}")
    target = tuple(float(t) for t in target_spacing)
    if len(target) != 3 or not all(np.isfinite(target)) or min(target) <= 0:
        raise ValueError(f"target spacing must be three finite positive mm values, got {target_spacing}")
    shape = check_geometry(volume.shape, volume.spacing, target)
    # first new voxel centre = old first edge + half a new voxel, along each array axis
    shift = (np.asarray(target) - np.asarray(volume.spacing)) / 2.0
    origin = np.asarray(volume.origin) + volume.direction @ shift
    ref_image = sitk.Image([int(n) for n in shape[::-1]], sitk.sitkInt8)
    ref_image.SetSpacing(tuple(target[::-1]))
    ref_image.SetOrigin(tuple(float(o) for o in origin))
    ref_image.SetDirection(tuple(float(v) for v in volume.direction[:, ::-1].ravel()))
    interp = sitk.sitkNearestNeighbor if order == 0 else sitk.sitkLinear
    out_type = sitk.sitkFloat32 if volume.array.dtype == np.float32 else sitk.sitkInt16
    if order == 0 and volume.array.dtype not in (np.int16, np.float32):
        out_type = sitk.sitkUInt8
    image = sitk.Resample(volume_to_image(volume), ref_image, sitk.Transform(), interp,
                          float(fill_value), out_type)
    array = sitk.GetArrayFromImage(image)
    return volume.with_array(array, spacing=target, origin=tuple(origin))


def resample_labels(labels: np.ndarray, source: Volume, target: Volume) -> np.ndarray:
    """Nearest-neighbour resampling of a label map on ``source``'s grid onto ``target``'s grid."""
    if labels.shape != source.shape:
        raise ValueError(f"label map shape {labels.shape} differs from the volume's {source.shape}")
    image = volume_to_image(source, labels)
    ref = volume_to_image(target, np.zeros(target.shape, dtype=np.uint8))
    out = sitk.Resample(image, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0,
                        image.GetPixelID())
    return sitk.GetArrayFromImage(out)
