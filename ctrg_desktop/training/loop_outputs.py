"""What a training run writes as it goes and at the end: the JSONL log and progress lines, the log
cut back on resume, and the final model folder with its card."""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
from pathlib import Path

import torch

from ctrg_desktop.model.report_model import StructureReportModel
from ctrg_desktop.training import distributed as dist_utils
from ctrg_desktop.training.model_setup import MODEL_DIR

RUN_CONFIG_NAME = "train_config.json"


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    return str(datetime.timedelta(seconds=round(max(seconds, 0))))


def rewrite_log(path: Path, last_step: int) -> None:
    """Drop log lines after ``last_step`` (they belong to steps a resumed run repeats)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue
    path.write_text("".join(line + "\n" for line in kept))


def append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def log_interval(run, window: list[dict], interval_s: float, elapsed_s: float, done: int,
                  log_path: Path) -> None:
    """Mean loss parts of the interval (averaged over ranks) -> JSONL line + one progress line (``run``:
    the loop's run state)."""
    keys = [k for k in window[0] if k not in ("lr", "grad_norm")]
    means = {k: dist_utils.all_reduce_mean(sum(p[k] for p in window) / len(window)) for k in keys}
    samples = len(window) * run.cfg.batch_size * run.info.world_size
    rate = samples / interval_s if interval_s > 0 else float("inf")
    eta = (run.total - run.step) * elapsed_s / done if done else float("nan")
    lr = window[-1]["lr"]
    if run.info.is_main:
        record = {"step": run.step, **means, "lr": lr, "grad_norm": window[-1]["grad_norm"],
                  "samples_per_s": rate, "elapsed_s": elapsed_s, "epoch": run.epoch}
        append_jsonl(log_path, record)
        extras = " ".join(f"{k} {v:.3f}" for k, v in means.items() if k != "loss")
        run.log(f"step {run.step}/{run.total} loss {means['loss']:.4f}{' (' + extras + ')' if extras else ''} "
                f"lr {lr:.1e} {rate:.2f} samples/s ETA {format_eta(eta)}")


def _decoder_card_lines(model: StructureReportModel) -> list[str]:
    """The card's lines on an LLM decoder: its base model with the base's SHA-256 (none for BERT)."""
    decoder = model.config.decoder
    if decoder.kind != "llm":
        return []
    llm = decoder.llm
    trainable = sum(p.numel() for p in model.decoder.parameters() if p.requires_grad)
    return [f"- decoder: LLM {llm.base} with LoRA r={llm.lora_r} alpha={llm.lora_alpha} on "
            f"{', '.join(llm.lora_targets)} and a projector to its embeddings ({trainable:,} trained parameters)",
            f"- base model: {llm.base}, SHA-256 {llm.base_sha256} (not stored here: install it to load this model; "
            f"a different base is refused)"]


def write_final_model(run, result) -> Path:
    """``OUT/model/``: save_pretrained + card.md, written beside and renamed into place."""
    final = run.out / MODEL_DIR
    tmp = run.out / f".{MODEL_DIR}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    run.model.save_pretrained(tmp)
    last = result.losses[-1]["loss"] if result.losses else None
    card = [f"# Structure-query report model ({run.cfg.stage} stage)", "",
            f"- trained: {datetime.datetime.now().isoformat(timespec='seconds')}, torch {torch.__version__}",
            f"- data: {run.data_dir.resolve()} (split {run.cfg.train_split}, {len(run.train_set)} studies)",
            (f"- steps: {run.step}, batch {run.cfg.batch_size} x {run.info.world_size} process(es), "
             f"lr {run.cfg.learning_rate:g}, device {run.device.type}"),
            f"- parent model: {run.parent.resolve() if run.parent else 'none (random init)'}",
            f"- final training loss: {last:.4f}" if last is not None else "- final training loss: n/a",
            *_decoder_card_lines(run.model),
            f"- command: `ctrg train {run.cfg.stage} --data {run.data_dir} --out {run.out}`",
            f"- full settings: {run.out.resolve() / RUN_CONFIG_NAME}", "",
            "## Limits", "",
            "Metrics: run `ctrg evaluate` on a held-out split and add them here. A model trained on "
            "synthetic studies has learnt to read those pictures, not real CT.", "",
            "**Not for clinical use.** Research and development only; every draft needs a "
            "radiologist's review.", ""]
    (tmp / "card.md").write_text("\n".join(card))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
