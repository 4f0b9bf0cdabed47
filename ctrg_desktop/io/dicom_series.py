"""One DICOM series (frames from single-slice files or multi-frame files) -> canonical Volume.

Pipeline (:func:`assemble_volume`, shared by the single-frame and multi-frame readers):

1. All frames must share one image size, orientation and pixel spacing, otherwise
   :class:`InconsistentSeriesError` lists the variants and how many slices each has.
2. Frames are sorted by their position along the slice normal ``row x column`` (never by
   InstanceNumber or file name). Slice spacing comes from these positions, not SliceThickness.
3. Slice spacing is checked before any pixel is read (fewer than 3 distinct positions:
   :class:`StudyReadError`). Pixels are then read by a few threads. **Repairs** (each noted
   in ``volume.series.warnings``; interpolated int16 values are rounded):

   * missing slices (a step > 1.5 x the median step) or uneven spacing (steps spreading by
     more than 1 % of the median): the slices are resampled along the slice axis, with
     linear interpolation between the two nearest slices, onto a uniform grid from the first
     to the last slice with ``n = round(extent / median) + 1`` slices (spacing
     ``extent / (n - 1)``, i.e. the median to within rounding). A gap of more than 10 median
     steps is not repaired: :class:`InconsistentSeriesError`;
   * slices at the same position: exact duplicates are dropped; differing pixel data at one
     position raises :class:`InconsistentSeriesError`;
   * slices shifted in-plane from one another (gantry tilt: positions not along the normal):
     each slice is shifted by linear interpolation onto a grid perpendicular to the slices;
     pixels shifted in from outside the image get ``min(-1024, lowest HU)``.

4. Stored values become HU with each frame's RescaleSlope/Intercept: int16 when slopes and
   intercepts are integers and every value fits, float32 otherwise. Pixels equal to
   PixelPaddingValue (up to PixelPaddingRangeLimit) become ``min(-1024, lowest real HU)``.
5. The array is flipped/permuted (no resampling) to canonical LPS; oblique axes stay in
   ``direction``.
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset
from scipy import ndimage

from ctrg_desktop.errors import InconsistentSeriesError, StudyReadError
from ctrg_desktop.io.dicom_pixels import load_frames, stored_dtype
from ctrg_desktop.io.dicom_scan import DicomHeader
from ctrg_desktop.io.progress import Reporter
from ctrg_desktop.io.safety import check_spacing
from ctrg_desktop.io.volume import SeriesInfo, StudyMeta, Volume

MIN_SLICES = 3
#: Positions closer than this (mm, along the normal) are the same slice.
SAME_POSITION_MM = 0.01
_MISSING_STEP = 1.5     # a step above this x median means missing slices
_UNEVEN_SPREAD = 0.01   # relative spread of steps tolerated without resampling
_MAX_GAP_STEPS = 10     # a gap above this x median is not repaired
_WORKERS = min(4, os.cpu_count() or 1)  # threads reading pixel data
_MAX_SLOPE = 1e15       # |RescaleSlope| beyond this overflows float32 HU
_MAX_INTERCEPT = 1e30
_LETTER_AXIS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


@dataclass
class Frame:
    """One 2D image of a series and where it lies (LPS mm)."""

    header: DicomHeader
    index: int                        #: frame number in its file (0 for single-frame files)
    position: np.ndarray              #: (3,) centre of the first transmitted pixel
    orientation: np.ndarray           #: (6,) row direction cosines, then column cosines
    pixel_spacing: tuple[float, float]  #: (between rows, between columns) mm
    slope: float = 1.0
    intercept: float = 0.0


def numbers(item: Dataset, keyword: str) -> list[float] | None:
    """A numeric element's values, parsed from the raw bytes when still unconverted (fast path
    for decimal strings: pydicom's DS conversion is the slowest part of a header read)."""
    element = item.get_item(keyword)
    if element is None or element.value is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").split("\\")
    elif isinstance(value, (str, int, float)):
        value = [value]
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def floats(item: Dataset, keyword: str, count: int, display: str) -> np.ndarray:
    """A numeric multi-value element as ``(count,)`` floats, or StudyReadError naming the file."""
    array = np.array(numbers(item, keyword) or [], dtype=np.float64)
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise StudyReadError(f"{display} has no valid {keyword} ({count} numbers needed to place "
                             "the image in space)")
    return array


def rescale_of(item: Dataset, display: str) -> tuple[float, float]:
    """``(slope, intercept)`` of an item holding RescaleSlope/Intercept (1, 0 when absent);
    StudyReadError naming ``display`` when they are not finite or would overflow."""
    slope = (numbers(item, "RescaleSlope") or [1.0])[0]
    intercept = (numbers(item, "RescaleIntercept") or [0.0])[0]
    if not (math.isfinite(slope) and math.isfinite(intercept)) or abs(slope) > _MAX_SLOPE \
            or abs(intercept) > _MAX_INTERCEPT:
        raise StudyReadError(f"{display} has an invalid RescaleSlope/RescaleIntercept ({slope:g}, "
                             f"{intercept:g}): HU = stored value x slope + intercept needs finite "
                             "numbers of a sensible size")
    return (slope if slope != 0 else 1.0), intercept


def orientation_of(item: Dataset, display: str) -> np.ndarray:
    """ImageOrientationPatient as ``(6,)``: two non-zero, non-parallel direction vectors."""
    iop = floats(item, "ImageOrientationPatient", 6, display)
    row, col = np.linalg.norm(iop[:3]), np.linalg.norm(iop[3:])
    if min(row, col) < 1e-3 or np.linalg.norm(np.cross(iop[:3], iop[3:])) < 0.5 * row * col:
        raise StudyReadError(f"{display} has an invalid ImageOrientationPatient "
                             f"({', '.join(f'{v:g}' for v in iop)}): rows and columns need two "
                             "perpendicular unit vectors")
    return iop


def pixel_spacing(item: Dataset, display: str) -> tuple[float, float]:
    """PixelSpacing (between rows, between columns), finite and positive, else StudyReadError."""
    spacing = tuple(float(v) for v in floats(item, "PixelSpacing", 2, display))
    check_spacing(spacing, display, "PixelSpacing")
    return spacing


def single_frame(header: DicomHeader) -> Frame:
    """The frame of a classic single-slice image file."""
    ds, name = header.ds, header.display
    return Frame(header, 0, floats(ds, "ImagePositionPatient", 3, name), orientation_of(ds, name),
                 pixel_spacing(ds, name), *rescale_of(ds, name))


def assemble_volume(frames: list[Frame], series: SeriesInfo, meta: StudyMeta,
                    reporter: Reporter | None = None) -> Volume:
    """Sort, check, load, repair and rescale ``frames`` into a canonical Volume (module docstring)."""
    name = series.source_path + (f" (series '{series.description}')" if series.description else "")
    _check_consistent(frames, name)
    row, col, normal = _axes(frames[0].orientation)
    along = np.array([f.position @ normal for f in frames])
    order = np.argsort(along, kind="stable")
    frames, along = [frames[i] for i in order], along[order]
    unique = np.concatenate([[True], np.diff(along) >= SAME_POSITION_MM])
    if unique.sum() < MIN_SLICES:
        raise StudyReadError(f"{name} needs at least {MIN_SLICES} slices at distinct positions to "
                             f"form a volume, it has {int(unique.sum())}")
    grid = _uniform_grid(along[unique], name, series.warnings)

    raw = _load(frames, reporter)
    frames, along, raw = _drop_duplicates(frames, along, raw, unique, series.warnings)
    hu = to_hu(raw, frames)
    positions = np.array([f.position for f in frames])
    sj, si = frames[0].pixel_spacing
    _align_in_plane(hu, positions - positions[0], row, col, (sj, si), series.warnings)
    if grid is not None:
        hu = _resample_slices(hu, along, grid)
        along = grid
    sk = (along[-1] - along[0]) / (len(along) - 1)
    check_spacing((sk, sj, si), name, "slice spacing")
    volume = Volume(hu, (sk, sj, si), origin=positions[0], direction=np.column_stack([normal, col, row]),
                    series=series, meta=meta)
    return canonical(volume)


def _axes(orientation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal row, column and normal (row x column) unit vectors from ImageOrientationPatient."""
    row = orientation[:3] / np.linalg.norm(orientation[:3])
    col = orientation[3:] - (orientation[3:] @ row) * row
    col /= np.linalg.norm(col)
    return row, col, np.cross(row, col)


def _check_consistent(frames: list[Frame], name: str) -> None:
    """InconsistentSeriesError unless all frames share size, orientation and pixel spacing."""
    def describe(counts: Counter, what) -> str:
        return ", ".join(f"{n} slice(s) {what(key)}" for key, n in counts.most_common())

    def numbers(values) -> str:
        return ", ".join(f"{v:g}" for v in values)

    sizes = Counter(f.header.size for f in frames)
    if len(sizes) > 1:
        raise InconsistentSeriesError(f"{name} mixes image sizes: "
                                      + describe(sizes, lambda s: f"of {s[0]} x {s[1]}"))
    first = frames[0]
    if any(np.abs(f.orientation - first.orientation).max() > 1e-3 for f in frames):
        orientations = Counter(tuple(np.round(f.orientation, 3) + 0.0) for f in frames)
        raise InconsistentSeriesError(f"{name} mixes {len(orientations)} slice orientations: "
                                      + describe(orientations, lambda o: f"oriented [{numbers(o)}]"))
    if any(np.abs(np.subtract(f.pixel_spacing, first.pixel_spacing)).max() > 1e-4 * max(first.pixel_spacing)
           for f in frames):
        spacings = Counter(tuple(np.round(f.pixel_spacing, 5)) for f in frames)
        raise InconsistentSeriesError(f"{name} mixes pixel spacings: "
                                      + describe(spacings, lambda s: f"at {numbers(s)} mm"))


def _uniform_grid(along: np.ndarray, name: str, warnings: list[str]) -> np.ndarray | None:
    """The slice positions to resample to, or None when the spacing is already uniform."""
    steps = np.diff(along)
    median = float(np.median(steps))
    worst = int(np.argmax(steps))
    if steps[worst] > _MAX_GAP_STEPS * median:
        raise InconsistentSeriesError(
            f"{name} has a gap of {steps[worst]:.7g} mm between slices at {along[worst]:.7g} and "
            f"{along[worst + 1]:.7g} mm (about {_count(steps[worst] / median - 1)} slices missing at "
            f"{median:.2f} mm spacing), too large to repair")
    missing = steps[worst] > _MISSING_STEP * median
    if not missing and (steps.max() - steps.min()) / median <= _UNEVEN_SPREAD:
        return None
    extent = along[-1] - along[0]
    count = int(round(extent / median)) + 1
    problem = (f"{count - len(along)} missing slice(s)" if missing
               else f"uneven slice spacing ({steps.min():.3f} to {steps.max():.3f} mm)")
    warnings.append(f"{problem}: resampled linearly to {count} slices at a uniform "
                    f"{extent / (count - 1):.3f} mm")
    return np.linspace(along[0], along[-1], count)


def _count(x: float) -> str:
    """A rounded count for messages (absurd counts from absurd positions stay short)."""
    return f"{x:.0f}" if abs(x) < 1e9 else f"{x:.3g}"


def _load(frames: list[Frame], reporter: Reporter | None) -> np.ndarray:
    """Stored values of every frame, ``(n, rows, cols)``, in ``frames`` order.

    Files are read by a few threads (file reads and most decoders release the GIL); progress
    and cancellation are handled here, in the calling thread, between chunks of files.
    """
    jobs: dict[int, tuple[DicomHeader, list[int], list[int], list]] = {}
    for dest, f in enumerate(frames):
        job = jobs.setdefault(id(f.header), (f.header, [], [], []))
        job[1].append(f.index)
        job[2].append(dest)
        job[3].append((f.slope, f.intercept))
    work = list(jobs.values())
    dtype = np.result_type(*{stored_dtype(job[0]) for job in work})
    raw = np.empty((len(frames), *frames[0].header.size), dtype=dtype)
    stop = threading.Event()

    def run(chunk: np.ndarray) -> int:
        for i in chunk:
            if stop.is_set():
                break
            header, indices, dest, rescale = work[i]
            load_frames(header, indices, raw, dest, rescale)
        return len(chunk)

    chunks = np.array_split(np.arange(len(work)), min(len(work), 8 * _WORKERS))
    with ThreadPoolExecutor(_WORKERS) as pool:
        futures = [pool.submit(run, c) for c in chunks]
        done = 0
        try:
            for future in as_completed(futures):
                done += future.result()
                if reporter is not None:
                    reporter(done, len(work), "reading pixel data")
        finally:
            stop.set()
    return raw


def _drop_duplicates(frames: list[Frame], along: np.ndarray, raw: np.ndarray, unique: np.ndarray,
                     warnings: list[str]):
    """Remove frames repeating the previous position with identical pixels (else raise)."""
    if unique.all():
        return frames, along, raw
    for k in np.flatnonzero(~unique):
        a, b = frames[k - 1], frames[k]
        if (a.slope, a.intercept) != (b.slope, b.intercept) or not np.array_equal(raw[k - 1], raw[k]):
            raise InconsistentSeriesError(
                f"{a.header.display} and {b.header.display} lie at the same position "
                f"({along[k]:.2f} mm along the slice axis) but hold different pixel data")
    warnings.append(f"{int((~unique).sum())} duplicate slice(s) at the same position dropped")
    keep = np.flatnonzero(unique)
    return [frames[k] for k in keep], along[keep], raw[keep]


def to_hu(raw: np.ndarray, frames: list[Frame]) -> np.ndarray:
    """Apply each frame's rescale to stored values ``(n, rows, cols)``; int16 when exact, else float32.

    ``raw`` may be reused as the result. Padding pixels (PixelPaddingValue of the first frame's
    file, up to PixelPaddingRangeLimit) become ``min(-1024, lowest other HU)``.
    """
    slopes = np.array([f.slope for f in frames])
    intercepts = np.array([f.intercept for f in frames])
    uniform = np.ptp(slopes) == 0 and np.ptp(intercepts) == 0
    mask = _padding_mask(raw, frames[0].header.ds)
    keep = None if mask is None else ~mask
    if np.all(slopes == np.rint(slopes)) and np.all(intercepts == np.rint(intercepts)) \
            and _fits_int16(raw, slopes, intercepts, uniform, keep):
        # int16 arithmetic wraps modulo 2**16, so it is exact whenever the result fits
        hu = raw.view(np.int16) if raw.dtype.itemsize == 2 else raw.astype(np.int16)
        scale = [(slice(None), int(slopes[0]), int(intercepts[0]))] if uniform else \
            [(k, int(s), int(b)) for k, (s, b) in enumerate(zip(slopes, intercepts))]
    else:
        hu = raw.astype(np.float32)
        scale = [(slice(None), slopes[0], intercepts[0])] if uniform else \
            [(k, s, b) for k, (s, b) in enumerate(zip(slopes, intercepts))]
    for k, s, b in scale:  # astype wraps out-of-range int16 factors, as the arithmetic does
        if s != 1:
            hu[k] *= np.array(s).astype(hu.dtype)
        if b != 0:
            hu[k] += np.array(b).astype(hu.dtype)
    if mask is not None:
        hu[mask] = min(-1024, hu.min(where=keep, initial=32767))
    return hu


def _padding_mask(raw: np.ndarray, ds: Dataset) -> np.ndarray | None:
    pad = ds.get("PixelPaddingValue")
    if pad is None:
        return None
    limit = ds.get("PixelPaddingRangeLimit")
    lo, hi = (pad, pad) if limit is None else (min(pad, limit), max(pad, limit))
    mask = (raw >= lo) & (raw <= hi)
    return mask if mask.any() else None


def _fits_int16(raw: np.ndarray, slopes, intercepts, uniform: bool, keep) -> bool:
    """True when every rescaled (non-padding) value lies in the int16 range."""
    info = np.iinfo(raw.dtype)  # the type's own range may settle it without a pass over the data
    ends = np.concatenate([info.min * slopes + intercepts, info.max * slopes + intercepts])
    if ends.min() >= -32768 and ends.max() <= 32767:
        return True
    where = {} if keep is None else {"where": keep}
    axes = None if uniform else (1, 2)
    lo = raw.min(axis=axes, initial=info.max, **where).astype(np.float64)
    hi = raw.max(axis=axes, initial=info.min, **where).astype(np.float64)
    ends = np.concatenate([np.ravel(lo * slopes + intercepts), np.ravel(hi * slopes + intercepts)])
    return ends.min() >= -32768 and ends.max() <= 32767


def _align_in_plane(hu: np.ndarray, offsets: np.ndarray, row: np.ndarray, col: np.ndarray,
                    spacing: tuple[float, float], warnings: list[str]) -> None:
    """Shift slices (in place) whose position strays from the normal through the first slice.

    ``offsets``: (n, 3) mm from the first slice's position; ``row``/``col``: unit vectors along
    a row / a column; ``spacing``: (between rows, between columns) mm.
    """
    inplane = np.column_stack([offsets @ col, offsets @ row])  # (n, 2) mm along (rows, cols)
    shift = inplane / np.asarray(spacing)
    moved = np.flatnonzero(np.abs(shift).max(axis=1) > 0.01)
    if moved.size == 0:
        return
    fill = float(min(-1024, hu.min()))
    for k in moved:
        shifted = ndimage.shift(hu[k].astype(np.float32), shift[k], order=1, mode="constant", cval=fill)
        hu[k] = np.rint(shifted) if hu.dtype == np.int16 else shifted
    tilt = np.degrees(np.arctan2(np.linalg.norm(inplane[-1]), abs(offsets[-1] @ np.cross(row, col))))
    warnings.append(f"slices are offset in-plane along the series (gantry tilt about {tilt:.1f} deg): "
                    "each slice shifted onto a grid perpendicular to the slices (linear interpolation)")


def _resample_slices(hu: np.ndarray, along: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 from slice positions ``along`` to ``grid`` (both mm)."""
    out = np.empty((len(grid),) + hu.shape[1:], dtype=hu.dtype)
    lower = np.clip(np.searchsorted(along, grid, side="right") - 1, 0, len(along) - 2)
    weight = (grid - along[lower]) / (along[lower + 1] - along[lower])
    for t, (k, w) in enumerate(zip(lower, weight)):
        if w < 1e-6 or w > 1 - 1e-6:
            out[t] = hu[k + int(round(w))]
        else:
            mixed = (1 - w) * hu[k].astype(np.float32) + w * hu[k + 1].astype(np.float32)
            out[t] = np.rint(mixed) if hu.dtype == np.int16 else mixed
    return out


def canonical(volume: Volume) -> Volume:
    """Flip/permute the array so the axes point L, P, S (same choice as SimpleITK's DICOMOrient)."""
    itk_direction = volume.direction[:, ::-1]  # columns in (i, j, k) order
    code = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        tuple(float(v) for v in itk_direction.ravel()))
    if code == "LPS":
        return volume
    source, flip = [0, 0, 0], [False, False, False]
    for itk_axis, letter in enumerate(code):
        world, sign = _LETTER_AXIS[letter]
        source[2 - world] = 2 - itk_axis   # new array axis (k: S, j: P, i: L) <- old array axis
        flip[2 - world] = sign < 0
    array = volume.array.transpose(source)[tuple(slice(None, None, -1 if f else 1) for f in flip)]
    first = [0, 0, 0]
    for axis, f in enumerate(flip):
        if f:
            first[source[axis]] = volume.shape[source[axis]] - 1
    return volume.with_array(np.ascontiguousarray(array),
                             spacing=tuple(volume.spacing[a] for a in source),
                             origin=tuple(volume.voxel_to_world(first)),
                             direction=volume.direction[:, source] * np.where(flip, -1.0, 1.0))
