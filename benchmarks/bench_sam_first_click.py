"""First SAM click after opening the demo CT: without and with the segmenter warm-up, side by side."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.bench_draft_responsive import _wait
from benchmarks.bench_first_slice import make_window, run_with_display
from benchmarks.bench_sam_gui import _lung_point, _until
from benchmarks.run import Result


def _first_click(warm: bool) -> tuple[float, float, dict]:
    """(seconds from the first click to its mask drawn, seconds the warm-up took or 0, the job's
    result) in a fresh window and worker process; ``warm``: the warm-up runs when the study opens
    and the reader clicks once it is done (a reader looks at a study for longer than that)."""
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    from ctrg_desktop.data.demo import ensure_demo_study

    demo = ensure_demo_study()
    app, window = make_window()
    seg = window.segmentation
    seg.prewarm = warm
    window.layout_widget.active = "axial"  # the view the reader will click (the warm-up embeds its slice)
    warmed = 0.0
    try:
        start = time.perf_counter()
        if warm:
            job = _until(app, seg.embedded, lambda: window.open_study(demo.nifti))[0]
            if not job.ok:
                raise RuntimeError(f"the warm-up failed: {job.error}")
            warmed = time.perf_counter() - start
        elif not window.open_study(demo.nifti):
            raise RuntimeError(window.last_error)
        volume, axial = window.volume, window.slice_views["axial"]
        k = axial.slice_index
        x, y = _lung_point(volume, k)
        px, py = axial.world_to_display(volume.voxel_to_world(np.array([k, y, x])))
        answered = []
        seg.mask_done.connect(answered.append)
        start = time.perf_counter()
        seg.set_tool("positive point")  # the reader picks the tool and clicks
        QTest.mouseClick(axial, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier,
                         QtCore.QPoint(int(round(px)), int(round(py))))
        _wait(app, lambda: bool(answered))
        axial.render_now()
        latency = time.perf_counter() - start
        job = seg.last_mask_job
        if not answered[0] or not job.ok:
            raise RuntimeError(f"the first click failed: {window.last_error}")
        return latency, warmed, job.result
    finally:
        window.segmentation.shutdown()
        window.close()


def _measure(args) -> Result:
    print("demo CT, LiteMedSAM on the CPU in its worker process; each run: a fresh window and worker")
    warm, warm_s, warm_job = _first_click(True)  # first: the cold run then has the files cached (fair to it)
    cold, _, cold_job = _first_click(False)
    print(f"without warm-up: first click -> mask drawn {cold * 1000:.0f} ms (worker start, model load and the "
          f"slice's embedding, started when the tool was chosen, then the decoder "
          f"{cold_job['predict_seconds'] * 1000:.0f} ms)")
    print(f"with warm-up:    first click -> mask drawn {warm * 1000:.0f} ms (cached embedding: "
          f"{warm_job['cached']}, decoder {warm_job['predict_seconds'] * 1000:.0f} ms); the warm-up took "
          f"{warm_s:.1f} s after the study opened")
    return Result(warm / cold, "first-click latency with warm-up / without", "< 0.2")


def run(args) -> Result:
    return run_with_display("sam_first_click", args, _measure)
