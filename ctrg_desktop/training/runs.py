"""Training runs started from the app: run folders and their state, commands, logs, estimates (no Qt).

A run lives in ``runs_root()/<id>/`` (``user_data_dir()/runs``)::

    run.json            RunState: what is trained from which model on which data, status, pid, metrics
    config.json         the derived TrainConfig (template + preset + the user's values)
    data/               merged CT-RATE layout (symlinks) when the run trains on several folders
    train/              ``ctrg train --out``: train_log.jsonl, checkpoints/, model/
    cache/              preprocessed volumes, shared by the dry run and the run
    dryrun/             the short timing run (removed after it, cache kept)
    eval/new.json, eval/parent.json   ``ctrg evaluate`` of the new and of the starting model
    console.log         the training process's output

This module creates a run and changes or discards one that has not started; the parts, whose names
it re-exports: folders, kinds and the starting model :mod:`~ctrg_desktop.training.run_folders`; state
:mod:`~ctrg_desktop.training.run_state`; presets and the derived config
:mod:`~ctrg_desktop.training.run_presets`; command lines :mod:`~ctrg_desktop.training.run_commands`;
the process and its signals :mod:`~ctrg_desktop.training.run_process`. Data summaries:
:mod:`~ctrg_desktop.training.run_data`; log, progress and estimate:
:mod:`~ctrg_desktop.training.run_log`; metrics, card and zoo: :mod:`~ctrg_desktop.training.run_results`.
Every process is the ``ctrg`` command line (``python -m ctrg_desktop.cli``, under
``torch.distributed.run`` for several GPUs); the app runs the same commands with QProcess.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from ctrg_desktop.training.run_commands import (cli_prefix, dry_run_setup, evaluate_command, finish_dry_run,
                                                process_env, shell_line, train_command)
from ctrg_desktop.training.run_data import held_out_split, merge_datasets
from ctrg_desktop.training.run_folders import (CACHE_DIR, CONFIG_FILE, CONSOLE_FILE, DATA_DIR, DRYRUN_DIR, EVAL_DIR,
                                               LOG_FILE, RUN_FILE, TRAIN_DIR, TRAIN_KINDS, RunError,
                                               available_kinds, corrections_dir, runs_root, start_model_folder,
                                               template_path, train_configs_dir)
from ctrg_desktop.training.run_presets import (LR_RANGE, MAX_BATCH, PRESETS, Hyperparameters, derive_config, preset,
                                               template_config, validate_hyperparameters)
from ctrg_desktop.training.run_process import (KILL, mark_started, pause, request_stop, signal_run, start,
                                               unpause)
from ctrg_desktop.training.run_state import (ACTIVE, RESUMABLE, STOPPED_CODES, RunState, error_line, list_runs,
                                             load_run, now, pid_alive, refresh, resumable_runs, settle)

__all__ = ["ACTIVE", "CACHE_DIR", "CONFIG_FILE", "CONSOLE_FILE", "DATA_DIR", "DRYRUN_DIR", "EVAL_DIR", "KILL",
           "LOG_FILE", "LR_RANGE", "MAX_BATCH", "PRESETS", "RESUMABLE", "RUN_FILE", "STOPPED_CODES", "TRAIN_DIR",
           "TRAIN_KINDS", "Hyperparameters", "RunError", "RunState", "available_kinds", "cli_prefix",
           "corrections_dir", "create_run", "derive_config", "discard", "dry_run_setup", "error_line",
           "evaluate_command", "finish_dry_run", "list_runs", "load_run", "mark_started", "now", "pause", "pid_alive",
           "preset", "process_env", "refresh", "request_stop", "resumable_runs", "runs_root", "set_device", "settle",
           "shell_line", "signal_run", "start", "start_model_folder", "template_config", "template_path",
           "train_command", "train_configs_dir", "unpause", "validate_hyperparameters"]


def _check_device(device: str, nproc: int) -> None:
    """cpu or cuda, 1 or more processes (several: torchrun; NCCL on GPUs, gloo on CPU)."""
    if device not in ("cpu", "cuda") or not isinstance(nproc, int) or nproc < 1:
        raise RunError(f"device must be cpu or cuda with 1 or more processes, got {device!r} x {nproc!r}")


def create_run(kind: str, parent_model: str, data_dirs, h: Hyperparameters, device: str = "cpu", nproc: int = 1,
               root=None, **changes) -> RunState:
    """A new run folder with ``config.json``, merged data (several folders) and ``run.json``."""
    if kind not in TRAIN_KINDS:
        raise RunError(f"unknown training kind {kind!r}; choose from {list(TRAIN_KINDS)}")
    _check_device(device, nproc)
    parent = start_model_folder(parent_model)
    root = Path(root) if root is not None else runs_root()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}-{kind}"
    n = 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{kind}-{n}"
    folder.mkdir(parents=True)
    try:
        data_dir = merge_datasets(data_dirs, folder / DATA_DIR)
        config = derive_config(kind, parent, h, device, cache_dir=folder / CACHE_DIR, **changes)
    except (RunError, ValueError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RunError(" ".join(str(exc).split())) from exc
    config.save(folder / CONFIG_FILE)
    state = RunState(id=folder.name, folder=str(folder), kind=kind, stage=config.stage, parent_model=parent_model,
                     parent_folder=str(parent), data_dirs=[str(d) for d in data_dirs], data_dir=str(data_dir),
                     steps=h.steps, device=device, nproc=nproc, created=now(), eval_split=held_out_split(data_dir))
    state.command = train_command(state)
    state.save()
    return state


def set_device(state: RunState, device: str, nproc: int = 1) -> RunState:
    """Change the device of a run not yet started (``config.json`` and ``run.json``)."""
    _check_device(device, nproc)
    if state.status != "new":
        raise RunError(f"run {state.id} has started: its device is fixed ({state.device} x {state.nproc})")
    state.config().replace(device=device).save(state.config_path)
    state.device, state.nproc = device, nproc
    state.s_per_step = state.startup_s = None
    state.command = train_command(state)
    state.save()
    return state


def discard(state: RunState) -> None:
    """Delete the folder of a run that never started."""
    if state.status == "new":
        shutil.rmtree(state.path, ignore_errors=True)
