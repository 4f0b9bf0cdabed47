"""Open to first rendered slice in the window / SimpleITK's bare read (512x512x300 DICOM and .nii.gz)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import SimpleITK as sitk

from benchmarks.run import Result

RUN = Path(__file__).resolve().with_name("run.py")


def run_with_display(name: str, args, body) -> Result:
    """``body(args)`` here when an X display exists, else in a child process under ``xvfb-run``."""
    if os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return body(args)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24", sys.executable, str(RUN), name,
           "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))
    match = re.match(rf"{name}: (\S+) (.*) \(target (.*)\)$", lines[-1] if lines else "")
    if done.returncode or not match:
        raise RuntimeError(f"benchmark {name} failed under xvfb-run:\n{done.stdout}\n{done.stderr[-3000:]}")
    return Result(float(match.group(1)), match.group(2), match.group(3))


def make_window(size=(1400, 900)):
    """A shown MainWindow with settings in a throw-away folder."""
    import tempfile

    from PySide6 import QtWidgets

    os.environ["CTRG_CONFIG_DIR"] = tempfile.mkdtemp(prefix="ctrg-bench-config-")
    os.environ.setdefault("CTRG_UNSAVED", "discard")  # closing with masks made by a benchmark asks nothing
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from ctrg_desktop.app.main_window import MainWindow

    window = MainWindow()
    window.resize(*size)
    window.show()
    for _ in range(5):
        app.processEvents()
    return app, window


def big_study_files() -> tuple[Path, Path]:
    """The cached 512x512x300 DICOM series and .nii.gz (made by bench_open.big_series)."""
    from benchmarks.bench_open import big_series
    from ctrg_desktop.resources import user_cache_dir

    return big_series(user_cache_dir() / "bench")


def _sitk_read(path: Path):
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path)))
        return reader.Execute()
    return sitk.ReadImage(str(path))


def _measure(args) -> Result:
    folder, nifti = big_study_files()
    app, window = make_window()
    total_ours = total_peer = 0.0
    print(f"{'case':24s} {'first slice s':>14s} {'SimpleITK s':>12s} {'ratio':>6s}")
    for name, path in (("DICOM 512x512x300", folder), (".nii.gz 512x512x300", nifti)):
        _sitk_read(path)  # warm the file cache for both
        ours = peer = float("inf")
        for _ in range(args.repeat):  # alternate: side by side
            start = time.perf_counter()
            _sitk_read(path)
            peer = min(peer, time.perf_counter() - start)
            if not window.open_study(path):
                raise RuntimeError(window.last_error)
            ours = min(ours, window.timings["first_slice"] - window.timings["start"])
        total_ours, total_peer = total_ours + ours, total_peer + peer
        print(f"{name:24s} {ours:14.3f} {peer:12.3f} {ours / peer:6.2f}")
    window.close()
    return Result(total_ours / total_peer, "x SimpleITK read time", "<= 1.3")


def run(args) -> Result:
    return run_with_display("first_slice", args, _measure)
