"""Peak RSS growth opening a 512x512x600 int16 volume in the window / the volume's bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.run import Result

SHAPE = (600, 512, 512)


def big_600() -> Path:
    """A cached uncompressed .nii of 512x512x600 (the 300-slice study stacked twice)."""
    import numpy as np

    from benchmarks.bench_first_slice import big_study_files
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.io.sitk_bridge import write_volume
    from ctrg_desktop.resources import user_cache_dir

    path = user_cache_dir() / "bench" / "volume_512x512x600.nii"
    if not path.is_file():
        half = read_study(big_study_files()[1])
        write_volume(half.with_array(np.concatenate([half.array, half.array])), path)
    return path


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(path: str) -> None:
    """In a fresh process: baseline RSS with the window shown, then peak RSS after opening."""
    from benchmarks.bench_first_slice import make_window

    os.environ["QT_QPA_PLATFORM"] = "xcb"
    app, window = make_window()
    app.processEvents()
    baseline = _rss_kib("VmRSS")
    if not window.open_study(path):
        raise SystemExit(window.last_error)
    window.render_all()
    app.processEvents()
    print(json.dumps({"baseline_kib": baseline, "peak_kib": _rss_kib("VmHWM"),
                      "volume_bytes": int(window.volume.array.nbytes)}))


def run(args) -> Result:
    path = big_600()
    code = ["-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
                  f"from benchmarks.bench_memory import child; child({str(path)!r})"]
    cmd = [sys.executable, *code]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"memory child failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    growth = (info["peak_kib"] - info["baseline_kib"]) * 1024
    print(f"baseline {info['baseline_kib'] / 1024:.0f} MiB, peak {info['peak_kib'] / 1024:.0f} MiB, "
          f"volume {info['volume_bytes'] / 2**20:.0f} MiB")
    return Result(growth / info["volume_bytes"], "x volume bytes (peak RSS - baseline)", "<= 2")
