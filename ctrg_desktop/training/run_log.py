"""The training log as the wizard reads it: JSONL tailing, curves, progress and ETA, the
seconds-per-step estimate of a dry run. Lines are those of :mod:`ctrg_desktop.training.loop`:
``{"step", "loss", <loss parts>, "lr", "grad_norm", "samples_per_s", "elapsed_s", "epoch"}`` per
log interval and ``{"step", "eval_loss"}`` per evaluation; ``elapsed_s`` restarts with every process.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path


class LogTail:
    """Incremental reader of a JSONL training log: :meth:`poll` returns the complete new lines.

    A log that shrinks or is replaced (a resumed run rewrites it) starts over: ``poll`` then
    returns ``reset=True`` and every record again.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.offset, self._pending, self._inode = 0, b"", None
        self.records: list[dict] = []

    def poll(self) -> tuple[list[dict], bool]:
        try:
            stat = self.path.stat()
        except OSError:
            return [], False
        reset = stat.st_size < self.offset or (self._inode is not None and stat.st_ino != self._inode)
        if reset:
            self.offset, self._pending, self.records = 0, b"", []
        self._inode = stat.st_ino
        if stat.st_size == self.offset:
            return [], reset
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        new = []
        for line in lines:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                new.append(record)
        self.records += new
        return new, reset


def read_log(path) -> list[dict]:
    return LogTail(path).poll()[0]


def last_step(log_path) -> int:
    records = read_log(log_path)
    return max((r["step"] for r in records), default=0)


_NOT_CURVES = {"step", "lr", "grad_norm", "samples_per_s", "elapsed_s", "epoch"}


def curves(records: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) for every loss part of the log (``eval_loss`` from the eval lines)."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        for key, value in record.items():
            if key in _NOT_CURVES or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            steps, values = out.setdefault(key, ([], []))
            steps.append(record["step"])
            values.append(float(value))
    return out


@dataclass
class Progress:
    step: int
    total: int
    loss: float | None
    s_per_step: float | None
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0


def progress(records: list[dict], total: int, fallback_s_per_step: float | None = None,
             global_batch: int | None = None) -> Progress:
    """Where a run stands: step, last loss, seconds per step of the latest process's lines
    (else from its samples/s and ``global_batch``, else ``fallback_s_per_step``), ETA."""
    train = [r for r in records if "loss" in r and "elapsed_s" in r]
    if not train:
        return Progress(0, total, None, fallback_s_per_step,
                        total * fallback_s_per_step if fallback_s_per_step else None)
    segment = [train[-1]]  # lines of the latest process (elapsed restarts on resume)
    for r in reversed(train[:-1]):
        if r["elapsed_s"] >= segment[0]["elapsed_s"]:
            break
        segment.insert(0, r)
    last = segment[-1]
    rate = fallback_s_per_step
    if len(segment) >= 2 and last["step"] > segment[0]["step"]:
        rate = (last["elapsed_s"] - segment[0]["elapsed_s"]) / (last["step"] - segment[0]["step"])
    elif last.get("samples_per_s") and global_batch:
        rate = global_batch / last["samples_per_s"]
    eta = max(0, total - last["step"]) * rate if rate else None
    return Progress(last["step"], total, last["loss"], rate, eta)


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    return str(datetime.timedelta(seconds=round(max(seconds, 0))))


@dataclass
class Estimate:
    """From a short dry run: seconds per optimiser step and the start-up cost of a process."""

    s_per_step: float
    startup_s: float
    steps: int

    def eta(self, steps: int) -> float:
        return self.startup_s + steps * self.s_per_step

    def text(self, steps: int) -> str:
        return (f"{self.s_per_step:.2f} s/step (measured over {self.steps} steps, start-up "
                f"{self.startup_s:.0f} s): at most about {format_seconds(self.eta(steps))} for {steps} steps "
                f"(the first pass preprocesses every study; later passes read the cache)")


def estimate_from_log(records: list[dict], wall_s: float) -> Estimate:
    """s/step from the step times after the first (which pays for the first batch's set-up);
    start-up = wall time - time spent in steps."""
    train = [r for r in records if "elapsed_s" in r and "loss" in r]
    if not train:
        raise ValueError("the dry run logged no step")
    if len(train) >= 2:
        s_per_step = (train[-1]["elapsed_s"] - train[0]["elapsed_s"]) / (train[-1]["step"] - train[0]["step"])
    else:
        s_per_step = train[0]["elapsed_s"] / train[0]["step"]
    return Estimate(s_per_step=s_per_step, startup_s=max(0.0, wall_s - train[-1]["elapsed_s"]), steps=len(train))
