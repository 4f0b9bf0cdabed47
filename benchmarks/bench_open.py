"""Study open time: ctrg's read_study / SimpleITK's bare read of the same files (demo + 512x512x300)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from benchmarks.run import Result
from ctrg_desktop.resources import user_cache_dir

BIG_SHAPE = (300, 512, 512)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _sitk_series(folder: Path):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def big_series(cache: Path) -> tuple[Path, Path]:
    """A 512x512x300 DICOM series and .nii.gz made from a synthetic study (written once, cached)."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_study
    from ctrg_desktop.imaging import resample_to_spacing
    from ctrg_desktop.io.dicom_write import write_dicom_series
    from ctrg_desktop.io.sitk_bridge import write_volume

    folder, nifti = cache / "series_512x512x300", cache / "volume_512x512x300.nii.gz"
    if len(list(folder.glob("*.dcm"))) == BIG_SHAPE[0] and nifti.is_file():
        return folder, nifti
    study = generate_study(0, PhantomConfig()).volume
    extent = np.asarray(study.shape) * np.asarray(study.spacing)
    big = resample_to_spacing(study, tuple(extent / np.asarray(BIG_SHAPE)))
    big = big.with_array(big.array[: BIG_SHAPE[0], : BIG_SHAPE[1], : BIG_SHAPE[2]])
    assert big.shape == BIG_SHAPE, big.shape
    folder.mkdir(parents=True, exist_ok=True)
    write_dicom_series(big, folder)
    write_volume(big, nifti)
    return folder, nifti


def run(args) -> Result:
    from ctrg_desktop.data.demo import ensure_demo_study
    from ctrg_desktop.io.readers import read_study

    demo = ensure_demo_study()
    folder, nifti = big_series(user_cache_dir() / "bench")
    cases = [
        ("demo .nii.gz 233x167x191", demo.nifti, lambda p: sitk.ReadImage(str(p))),
        ("demo DICOM J2K 512x512x20", demo.dicom_dir, _sitk_series),
        ("DICOM 512x512x300", folder, _sitk_series),
        (".nii.gz 512x512x300", nifti, lambda p: sitk.ReadImage(str(p))),
    ]
    total_ours = total_peer = 0.0
    print(f"{'case':30s} {'ctrg s':>8s} {'SimpleITK s':>12s} {'ratio':>6s}")
    for name, path, peer in cases:
        read_study(path)  # warm the file cache for both readers
        peer_s = _best(lambda: peer(path), args.repeat)
        ours_s = _best(lambda: read_study(path), args.repeat)
        total_ours, total_peer = total_ours + ours_s, total_peer + peer_s
        print(f"{name:30s} {ours_s:8.3f} {peer_s:12.3f} {ours_s / peer_s:6.2f}")
    return Result(total_ours / total_peer, "x SimpleITK read time", "<= 1.3")
