"""Paper config on CPU: parameter count, and peak memory / time of one encode at the full 240x480x480 input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import Result


def child(backward: bool) -> None:
    """In a fresh process: RSS before and after one encode (+ backward) of a full-size input."""
    import resource

    import torch

    from ctrg_desktop.model import ModelConfig, StructureReportModel

    torch.manual_seed(0)
    config = ModelConfig.paper()
    model = StructureReportModel(config)
    params = {name: sum(p.numel() for p in getattr(model, name).parameters())
              for name in ("encoder", "observer", "decoder")}
    params["total"] = sum(p.numel() for p in model.parameters())
    volume = torch.randn(1, 1, *config.encoder.input_shape)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with torch.set_grad_enabled(backward):
        out = model.encode(volume)
        if backward:
            out.decoder_tokens().square().mean().backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"params": params, "seconds": seconds, "peak_growth_mib": (peak - before) / 1024,
                      "tokens": tuple(out.patch_features.shape), "topk": tuple(out.topk_indices.shape)}))


def _run_child(backward: bool) -> dict:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
            f"from benchmarks.bench_paper import child; child({backward})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args) -> Result:
    infer, train = _run_child(False), _run_child(True)
    p = infer["params"]
    print(f"parameters: total {p['total'] / 1e6:.1f} M (encoder {p['encoder'] / 1e6:.1f} M, "
          f"observer {p['observer'] / 1e6:.2f} M, decoder {p['decoder'] / 1e6:.1f} M)")
    print(f"patch tokens {infer['tokens']}, top-K {infer['topk']}")
    print(f"encode, batch 1, 240x480x480, CPU: {infer['seconds']:.1f} s, peak memory growth "
          f"{infer['peak_growth_mib']:.0f} MiB")
    print(f"encode + backward (training step estimate per sample): {train['seconds']:.1f} s, "
          f"peak memory growth {train['peak_growth_mib']:.0f} MiB")
    return Result(train["peak_growth_mib"] / 1024, "GiB activation memory per training sample (encoder+observer)",
                  "fits a 32 GB GPU at batch 8")
