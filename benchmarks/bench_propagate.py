"""Propagate in 3D: seconds per slice with LiteMedSAM on the demo CT, the speed-ups side by side.

Every variant grows the same start mask (LiteMedSAM's mask of the right lung on the middle axial
slice, prompted with a threshold mask's box) ``--slices`` slices each way through the same code
the worker runs (:func:`ctrg_desktop.segmentation.propagate`), with a fresh cache key so every
slice is embedded (except "re-run"). The variants run in turn, ``--repeat`` rounds, so a machine
whose load changes meanwhile slows them all alike: compare the ratios. Wall-clock and CPU
seconds (all threads of this process) per slice are printed; the masks must equal the first
variant's (the speed-ups change no result).

Variants:

* ``before``: the encoder as loaded, no embedding ahead, ``torch_threads`` as the worker chose
  before (``os.cpu_count() - 1``);
* ``fused``: the encoder with its BatchNorms folded into the convolutions;
* ``fused + CL``: that encoder in channels-last memory format (the segmenter's default now);
* ``fused + CL + ahead``: the next slices embedded by a background thread while one is decoded
  (``ahead=2``: the worker's default now);
* ``... + 2 ahead threads``: both directions embedded at once, one torch thread each;
* ``fused + CL, all cores``: ``torch.set_num_threads(os.cpu_count())`` (what the worker must
  avoid when another process has the cores);
* ``re-run``: the ``fused + CL + ahead`` run again: every embedding comes from the cache.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks.run import Result

TARGET_S = 1.5


def _start_mask(segmenter, image, window):
    from benchmarks.bench_sam import _lung_reference
    from ctrg_desktop.segmentation import mask_box

    truth = _lung_reference(image)
    if not truth.any():
        raise RuntimeError("no lung found on the demo CT's middle slice")
    return segmenter.predict(segmenter.embed(image, window), box=mask_box(truth))


def run(args) -> Result:
    import torch

    from ctrg_desktop.app.segment.process import usable_cores
    from ctrg_desktop.data.demo import ensure_demo_study
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.segmentation import LUNG_WINDOW, EmbeddingCache, load_segmenter, propagate

    slices = max(1, int(getattr(args, "slices", 0) or 5))
    rounds = max(1, int(getattr(args, "repeat", 2)))
    demo = read_study(ensure_demo_study().nifti)
    k = demo.shape[0] // 2
    plain = load_segmenter("litemedsam", device="cpu", fuse=False, cache=EmbeddingCache(256))
    fused = load_segmenter("litemedsam", device="cpu", cache=EmbeddingCache(256))
    fused.encoder, fused.channels_last = fused.encoder.to(memory_format=torch.contiguous_format), False
    now = load_segmenter("litemedsam", device="cpu", cache=EmbeddingCache(256))
    assert now.channels_last
    old_threads = max(1, (os.cpu_count() or 2) - 1)
    new_threads = max(1, usable_cores() - 1)
    torch.set_num_threads(new_threads)
    start = _start_mask(fused, demo.array[k], LUNG_WINDOW)
    print(f"demo CT {demo.shape}, right lung on axial slice {k + 1} ({int(start.sum())} pixels), {slices} slices "
          f"each way, {rounds} round(s); torch {torch.__version__}; os.cpu_count() {os.cpu_count()}, usable cores "
          f"{usable_cores()}, load average {os.getloadavg()[0]:.1f}")
    print(f"torch threads: before {old_threads}, now {new_threads} (the worker keeps a core for the GUI)")

    variants = [("before", plain, old_threads, 0, 1), ("fused", fused, new_threads, 0, 1),
                ("fused + CL", now, new_threads, 0, 1), ("fused + CL + ahead", now, new_threads, 2, 1),
                ("... + 2 ahead threads", now, 1, 2, 2), ("fused + CL, all cores", now, os.cpu_count() or 2, 0, 1)]
    times = {name: [] for name, *_ in variants + [("re-run", None, 0, 0, 0)]}
    cpu = {name: [] for name in times}
    reference = None
    for r in range(rounds):
        for name, seg, threads, ahead, ahead_threads in variants:
            torch.set_num_threads(threads)
            key = f"bench-{name}-{r}"
            wall0, cpu0 = time.perf_counter(), time.process_time()
            out = propagate(demo.array, 0, k, start, seg, window=LUNG_WINDOW, study_key=key, max_slices=slices,
                            max_hu_shift=None, ahead=ahead, ahead_threads=ahead_threads)
            done = 2 * slices
            times[name].append((time.perf_counter() - wall0) / done)
            cpu[name].append((time.process_time() - cpu0) / done)
            if reference is None:
                reference = out
            elif not np.array_equal(out, reference):
                diff = int((out != reference).sum())
                print(f"  note: {name} differs from 'before' in {diff} voxels (float rounding)")
            if name == "fused + CL + ahead":
                torch.set_num_threads(new_threads)
                wall0, cpu0 = time.perf_counter(), time.process_time()
                propagate(demo.array, 0, k, start, seg, window=LUNG_WINDOW, study_key=key, max_slices=slices,
                          max_hu_shift=None, ahead=2)
                times["re-run"].append((time.perf_counter() - wall0) / done)
                cpu["re-run"].append((time.process_time() - cpu0) / done)
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.2f} s" for n, v in times.items()), flush=True)
    base = statistics.median(times["before"])
    print(f"\n{'variant':26s} {'wall s/slice':>12s} {'CPU s/slice':>12s} {'x before':>9s}")
    for name in times:
        wall = statistics.median(times[name])
        print(f"{name:26s} {wall:12.2f} {statistics.median(cpu[name]):12.2f} {wall / base:9.2f}")
    print("(CPU s/slice counts every thread of this process; on a machine shared with other work the wall "
          "time is inflated by the others' load, the ratios measured in the same rounds are what compares)")
    best = statistics.median(times["fused + CL + ahead"])
    return Result(best, f"s per slice (fused + CL + ahead, {new_threads} torch thread(s); before: {base:.2f} s)",
                  f"< {TARGET_S:g} s on 2 free cores")
