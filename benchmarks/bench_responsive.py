"""Longest Qt event-loop stall (5 ms heartbeat) while the window loads a 512x512x300 series / .nii.gz."""

from __future__ import annotations

import time

from benchmarks.bench_first_slice import big_study_files, make_window, run_with_display
from benchmarks.run import Result


def _longest_stall(app, window, path) -> tuple[float, float]:
    """(longest gap between heartbeats in ms, load time in s) from the click until the views show."""
    from PySide6 import QtCore

    beats: list[float] = []
    timer = QtCore.QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    app.processEvents()
    beats.append(time.perf_counter())
    ok = window.open_study(path)
    beats.append(time.perf_counter())
    timer.stop()
    if not ok:
        raise RuntimeError(window.last_error)
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    return 1000.0 * max(gaps), beats[-1] - beats[0]


def _measure(args) -> Result:
    folder, nifti = big_study_files()
    app, window = make_window()
    worst = 0.0
    for name, path in (("DICOM 512x512x300", folder), (".nii.gz 512x512x300", nifti)):
        stall, seconds = min(_longest_stall(app, window, path) for _ in range(args.repeat))
        worst = max(worst, stall)
        print(f"{name:24s} load {seconds:6.2f} s   longest event-loop stall {stall:6.1f} ms")
    window.close()
    return Result(worst, "ms longest stall", "< 50 ms")


def run(args) -> Result:
    return run_with_display("responsive", args, _measure)
