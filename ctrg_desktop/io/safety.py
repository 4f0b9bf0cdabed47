"""Limits and sanity checks every reader applies, so bad or hostile input gives one clear error.

Sizes are checked from headers *before* anything is decoded or allocated:

* ``CTRG_MAX_VOLUME_MB`` (default 4096): the most voxel data, in MiB, a study may declare
  (NIfTI/NRRD/MetaImage: size x bytes per voxel as stored; DICOM: frames x rows x columns x
  bytes allocated). A 512 x 512 x 1000 int16 CT is 500 MiB.
* ``CTRG_MAX_ZIP_MEMBER_MB`` (default: the volume limit): the most one zip member may inflate to.
* ``CTRG_MAX_ZIP_RATIO`` (default 100): the most a zip member over 1 MiB may inflate relative to
  its compressed size (real DICOM deflates 2-10x; a zip bomb 1000x); the same limit holds for a
  compressed volume (``.nii.gz``, gzip NRRD, compressed MetaImage) declaring over 64 MiB of
  decompressed data (real CT compresses 2-5x), so a 1 MiB file cannot inflate to 1 GiB.

Voxels that are NaN or infinite are repaired (set to ``min(-1024, lowest finite HU)``, with a
warning) by :func:`repair_non_finite`; a volume with no finite voxel is refused.
"""

from __future__ import annotations

import os

import numpy as np

from ctrg_desktop.errors import CtrgError, StudyReadError
from ctrg_desktop.io.volume import Volume

MIB = 1 << 20
MAX_VOLUME_ENV = "CTRG_MAX_VOLUME_MB"
MAX_ZIP_MEMBER_ENV = "CTRG_MAX_ZIP_MEMBER_MB"
MAX_ZIP_RATIO_ENV = "CTRG_MAX_ZIP_RATIO"
DEFAULT_MAX_VOLUME_MB = 4096
DEFAULT_MAX_ZIP_RATIO = 100
#: zip members at most this large are not held to the compression-ratio limit
ZIP_RATIO_EXEMPT_BYTES = MIB
#: compressed volumes declaring at most this much decompressed data are not held to the ratio limit
COMPRESSED_VOLUME_RATIO_EXEMPT_BYTES = 64 * MIB


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise CtrgError(f"the environment variable {name} must be a positive number, not '{raw}'")
    return value


def max_volume_bytes() -> int:
    """The most voxel data (bytes) a study may declare (``CTRG_MAX_VOLUME_MB``)."""
    return round(_env_number(MAX_VOLUME_ENV, DEFAULT_MAX_VOLUME_MB) * MIB)


def max_zip_member_bytes() -> int:
    """The most one zip member may inflate to (``CTRG_MAX_ZIP_MEMBER_MB``, default the volume limit)."""
    return round(_env_number(MAX_ZIP_MEMBER_ENV, max_volume_bytes() / MIB) * MIB)


def max_zip_ratio() -> float:
    """The most a zip member over 1 MiB may inflate relative to its compressed size."""
    return _env_number(MAX_ZIP_RATIO_ENV, DEFAULT_MAX_ZIP_RATIO)


def mib(nbytes: float) -> str:
    """``nbytes`` in MiB, for messages."""
    return f"{nbytes / MIB:,.0f} MiB" if nbytes >= 10 * MIB else f"{nbytes / MIB:.3g} MiB"


def check_volume_bytes(nbytes: float, name: str, what: str) -> None:
    """StudyReadError when ``nbytes`` of declared voxel data exceed ``CTRG_MAX_VOLUME_MB``.

    ``what`` describes the declaration, e.g. ``"512 x 512 x 1000 voxels of 2 bytes"``.
    """
    limit = max_volume_bytes()
    if nbytes > limit:
        raise StudyReadError(f"{name} declares {what}, {mib(nbytes)} of voxel data, over the "
                             f"{mib(limit)} limit ({MAX_VOLUME_ENV} raises it)")


def check_compression_ratio(decompressed: int, compressed: int, name: str) -> None:
    """StudyReadError when a compressed volume declares over 64 MiB of decompressed data and more
    than ``CTRG_MAX_ZIP_RATIO`` times its compressed size (a decompression bomb), before inflating."""
    ratio = decompressed / max(compressed, 1)
    limit = max_zip_ratio()
    if decompressed > COMPRESSED_VOLUME_RATIO_EXEMPT_BYTES and ratio > limit:
        raise StudyReadError(f"{name} declares {mib(decompressed)} of decompressed data in {mib(compressed)} "
                             f"of compressed data ({ratio:,.0f}-fold), over the {limit:g}-fold limit for "
                             f"compressed volumes: a decompression bomb or a damaged header "
                             f"({MAX_ZIP_RATIO_ENV} raises it)")


def check_spacing(spacing, name: str, field: str = "voxel spacing") -> None:
    """StudyReadError unless every spacing value is finite and positive."""
    values = np.asarray(spacing, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        shown = ", ".join(f"{v:g}" for v in values)
        raise StudyReadError(f"{name} has an invalid {field} ({shown} mm): spacings must be "
                             "finite and positive")


def repair_non_finite(volume: Volume, name: str) -> Volume:
    """Set NaN/infinite voxels to ``min(-1024, lowest finite HU)`` with a warning (in place).

    Integer volumes are returned untouched; a volume without any finite voxel is refused.
    """
    array = volume.array
    if array.dtype.kind != "f":
        return volume
    finite = np.isfinite(array)
    bad = array.size - int(np.count_nonzero(finite))
    if bad == 0:
        return volume
    if bad == array.size:
        raise StudyReadError(f"{name} holds no finite value: every voxel is NaN or infinite")
    fill = float(min(-1024.0, float(array.min(where=finite, initial=np.inf))))
    array[~finite] = fill
    volume.series.warnings.append(f"{bad} voxel(s) were NaN or infinite: set to {fill:g} HU")
    return volume
