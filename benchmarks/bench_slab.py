"""Thick slab: ms per slab slice (20 and 50 mm MIP / MinIP / mean, each view) on the demo study; the worst."""

from __future__ import annotations

import time

from benchmarks.run import Result

TARGET_MS = 20.0  # a slab slice must not cost a scrolling frame (50 fps)


def run(args) -> Result:
    from ctrg_desktop.data.demo import ensure_demo_study
    from ctrg_desktop.imaging.slab import slab_projection
    from ctrg_desktop.io.readers import read_study

    volume = read_study(ensure_demo_study().nifti)
    worst = 0.0
    for thickness in (20.0, 50.0):
        for axis, view in enumerate(("axial", "coronal", "sagittal")):
            for mode in ("mip", "minip", "mean"):
                n = volume.shape[axis]
                slices = range(n // 4, 3 * n // 4)
                best = float("inf")
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    for index in slices:
                        slab_projection(volume.array, axis, index, thickness, volume.spacing[axis], mode)
                    best = min(best, (time.perf_counter() - start) / len(slices) * 1000.0)
                print(f"{thickness:4.0f} mm {mode:5s} {view:8s} {best:6.2f} ms per slice")
                worst = max(worst, best)
    return Result(worst, "ms per slab slice (worst view and mode)", f"< {TARGET_MS:g} ms")
