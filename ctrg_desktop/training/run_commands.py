"""The command lines of a run: ``ctrg train`` (and its short timing run), ``ctrg evaluate``, as
argument lists for a subprocess or QProcess, and as one line to copy."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ctrg_desktop.training.run_folders import CONFIG_FILE, DRYRUN_DIR, LOG_FILE
from ctrg_desktop.training.run_log import Estimate
from ctrg_desktop.training.run_state import RunState


def cli_prefix(nproc: int = 1) -> list[str]:
    """How to run ``ctrg``: this Python with ``-m ctrg_desktop.cli``; several processes under
    ``torch.distributed.run`` (torchrun)."""
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                "-m", "ctrg_desktop.cli"]
    return [sys.executable, "-m", "ctrg_desktop.cli"]


def train_command(state: RunState, resume: bool = False) -> list[str]:
    cmd = [*cli_prefix(state.nproc), "train", state.stage, "--config", str(state.config_path),
           "--data", state.data_dir, "--out", str(state.out_dir)]
    return cmd + ["--resume"] if resume else cmd


def evaluate_command(model, data_dir, split: str, out, device: str = "cpu", meteor: bool | None = None,
                     limit: int | None = None) -> list[str]:
    """``ctrg evaluate`` of one model (METEOR only when Java is there, unless ``meteor`` says)."""
    meteor = shutil.which("java") is not None if meteor is None else meteor
    cmd = [*cli_prefix(1), "evaluate", "--model", str(model), "--data", str(data_dir), "--split", split,
           "--out", str(out), "--device", device, "--quiet"]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd if meteor else cmd + ["--no-meteor"]


def shell_line(cmd: list[str]) -> str:
    """A command as one copy-pasteable line (``ctrg`` for this Python's ``-m ctrg_desktop.cli``)."""
    import shlex

    text = shlex.join(cmd)
    return text.replace(shlex.join([sys.executable, "-m", "ctrg_desktop.cli"]), "ctrg")


def process_env() -> dict[str, str]:
    """The environment of the child processes: this one, unbuffered output."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def dry_run_setup(state: RunState, steps: int = 3) -> tuple[list[str], Path]:
    """(command, log path) of a timing run: ``steps`` steps of the run's config, a line per step,
    into ``dryrun/`` (cache shared with the run)."""
    config = state.config().replace(steps=steps, log_every=1, checkpoint_every=0, keep_checkpoints=1, eval_every=0)
    folder = state.path / DRYRUN_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config.save(folder / CONFIG_FILE)
    cmd = [*cli_prefix(state.nproc), "train", state.stage, "--config", str(folder / CONFIG_FILE),
           "--data", state.data_dir, "--out", str(folder / "out")]
    return cmd, folder / "out" / LOG_FILE


def finish_dry_run(state: RunState, estimate: Estimate) -> None:
    state.s_per_step, state.startup_s = estimate.s_per_step, estimate.startup_s
    shutil.rmtree(state.path / DRYRUN_DIR, ignore_errors=True)
    state.save()
