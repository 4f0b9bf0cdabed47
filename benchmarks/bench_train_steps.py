"""Training steps/s on CPU, batch 2, 1 and 2 threads: structure stage, BERT report stage, LLM-LoRA report stage."""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.run import Result

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
#: option -> (train config file, changes): the demo configs, each started from the demo zoo model
OPTIONS = {
    "structure": ("demo_structure.json", {}),
    "report-bert": ("demo_report.json", {"init_from": "demo"}),
    "report-llm-lora": ("demo_report_llm.json", {}),
}
STEPS = int(os.environ.get("CTRG_BENCH_STEPS", "5"))  # timed steps per run (after one untimed warm-up step)
THREADS = (1, 2)


def measure(option: str, threads: int, data: Path, out: Path, cache: Path, text_models: dict) -> dict:
    """Median steps/s of one short ``train`` run (per-step log intervals, the warm-up step left out)."""
    import json

    import torch

    from ctrg_desktop.training.config import TrainConfig
    from ctrg_desktop.training.loop import train

    name, changes = OPTIONS[option]
    cfg = TrainConfig.load(CONFIGS / name, **changes).replace(
        steps=STEPS + 1, batch_size=2, log_every=1, checkpoint_every=0, device="cpu", cache_dir=str(cache))
    torch.set_num_threads(threads)
    start = time.perf_counter()
    result = train(cfg, data, out, stream=io.StringIO(), **text_models)
    wall = time.perf_counter() - start
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    rates = [r["samples_per_s"] / cfg.batch_size for r in log[1:]]
    trainable = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
    return {"steps_per_s": statistics.median(rates), "trainable": trainable, "wall_s": wall}


def run(args) -> Result:
    import torch

    from ctrg_desktop.data.phantoms import generate_dataset
    from ctrg_desktop.model import load_tokenizer
    from ctrg_desktop.model.text_encoder import TextEncoder

    before = torch.get_num_threads()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        data = generate_dataset(tmp / "phantoms", 6, seed=0, workers=1)  # default grid 96x128x128, 4 train
        print(f"phantoms: 6 studies in {time.perf_counter() - start:.1f} s (not timed); {STEPS} timed steps per run "
              f"(CTRG_BENCH_STEPS), batch 2, CPU; the first run of each option also loads its models")
        text_models = {"tokenizer": load_tokenizer("minilm"), "text_encoder": TextEncoder("minilm")}
        try:
            for option in OPTIONS:
                for threads in THREADS:
                    rows[option, threads] = measure(option, threads, data, tmp / f"{option}-{threads}",
                                                    tmp / "cache", text_models)
                    r = rows[option, threads]
                    print(f"  {option:16s} {threads} thread(s): {r['steps_per_s']:.3f} steps/s "
                          f"(run {r['wall_s']:.0f} s)", flush=True)
        finally:
            torch.set_num_threads(before)
    print()
    print(f"{'option':16s} {'trainable params':>16s} " + " ".join(f"{f'{t} thread(s)':>12s}" for t in THREADS))
    for option in OPTIONS:
        rates = " ".join(f"{rows[option, t]['steps_per_s']:>12.3f}" for t in THREADS)
        print(f"{option:16s} {rows[option, THREADS[0]]['trainable']:>16,d} {rates}")
    llm, bert = rows["report-llm-lora", 1]["steps_per_s"], rows["report-bert", 1]["steps_per_s"]
    print(f"(steps/s; LLM-LoRA report stage at 1 thread = {llm / bert:.2f} x the BERT report stage)")
    # benchmarks/run.py prints the last line: "train_steps: X steps/s ..."
    return Result(llm, "LLM-LoRA report steps/s (batch 2, 1 CPU thread)", "informational, compare with the table")
