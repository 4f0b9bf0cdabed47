"""Training checkpoints: one folder per step under ``OUT/checkpoints/``, written atomically.

```
OUT/checkpoints/step-00000040/
    config.json, model.safetensors   the model (save_pretrained: loads with from_pretrained)
    training_state.pt                optimizer, scheduler, grad scaler, RNG states (torch.save)
    train_config.json                the resolved TrainConfig
    meta.json                        step, epoch, batch position, world size, schedule
```
A checkpoint is written into ``.step-XXXXXXXX.tmp-PID`` (files fsynced) and renamed into place,
so a crash never leaves a half-written ``step-*`` folder; only the newest ``keep`` remain. A full
disk raises ``OSError(ENOSPC)`` naming the file (the partial folder is removed).
:func:`latest_checkpoint` skips a damaged newest checkpoint (a file truncated after the fact,
e.g. by a full disk or a copy) with a warning and returns the newest intact one.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctrg_desktop.atomic import fsync_directory, fsync_file
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.checkpoint import CONFIG_NAME, WEIGHTS_NAME, WeightsFileError, read_weights_header, writing
from ctrg_desktop.processes import pid_exists

STATE_NAME = "training_state.pt"
META_NAME = "meta.json"
TRAIN_CONFIG_NAME = "train_config.json"
_STEP_DIR = re.compile(r"^step-(\d{8})$")


class CheckpointError(CtrgError):
    """A training checkpoint is missing, damaged or does not fit the run."""


@dataclass
class TrainingState:
    """What a checkpoint restores besides the weights."""

    step: int
    epoch: int
    batch_in_epoch: int
    optimizer: dict
    scheduler: dict
    scaler: dict | None
    rng: dict
    meta: dict
    folder: Path


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def rng_state() -> dict:
    """Python, NumPy, torch (and CUDA) RNG states, as tensors/ints so ``weights_only`` loads them."""
    np_state = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {"python": [version, list(internal), gauss],
             "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(("MT19937", npst["key"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"],
                         npst["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def _write_json(path: Path, data: dict) -> None:
    with writing(path):
        path.write_text(json.dumps(data, indent=2) + "\n")


def save_training_checkpoint(out_dir, model, optimizer, *, step: int, epoch: int, batch_in_epoch: int,
                             train_config: dict, scheduler: dict | None = None, scaler=None,
                             meta: dict | None = None, keep: int = 3) -> Path:
    """Write ``OUT/checkpoints/step-XXXXXXXX`` atomically and prune to the newest ``keep``.

    ``model`` is the bare :class:`StructureReportModel` (not the DDP wrapper). Returns the folder.
    """
    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        model.save_pretrained(tmp)
        with writing(tmp / STATE_NAME):
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler or {},
                        "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng_state()},
                       tmp / STATE_NAME)
        _write_json(tmp / TRAIN_CONFIG_NAME, train_config)
        _write_json(tmp / META_NAME, {"step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                                      **(meta or {})})
        for path in tmp.iterdir():
            with writing(path):
                fsync_file(path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # no partial checkpoint is left to fill the disk
        if exc.errno == errno.ENOSPC:  # name the checkpoint's file, not the hidden temporary folder
            name = Path(exc.filename).name if exc.filename else ""
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final / name)) from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_directory(tmp)
    if final.exists():  # the same step written again (e.g. after a resume): replace it
        old = root / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    fsync_directory(root)
    prune_checkpoints(root, keep)
    return final


def list_checkpoints(out_dir) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first (``OUT`` or ``OUT/checkpoints``)."""
    root = Path(out_dir)
    if root.name != "checkpoints":
        root = root / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.match(p.name) and (p / META_NAME).is_file()]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def checkpoint_problem(folder) -> str:
    """Why a checkpoint folder cannot be resumed from ('' when it looks intact): a missing file,
    unreadable meta, a weights file whose header or size is wrong, a state file whose zip
    directory (at its end) is gone. Cheap: headers and sizes only, no tensor data is read."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_NAME).read_text())
        int(meta["step"]), int(meta["epoch"]), int(meta["batch_in_epoch"])
        json.loads((folder / TRAIN_CONFIG_NAME).read_text())
        json.loads((folder / CONFIG_NAME).read_text())
        read_weights_header(folder / WEIGHTS_NAME)
        with zipfile.ZipFile(folder / STATE_NAME) as archive:
            archive.infolist()
    except FileNotFoundError as exc:
        return f"{Path(exc.filename).name} is missing"
    except WeightsFileError:
        return f"{WEIGHTS_NAME} is damaged"
    except (zipfile.BadZipFile, EOFError, struct.error):
        return f"{STATE_NAME} is damaged"
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    return ""


def latest_checkpoint(out_dir, warn=None) -> Path | None:
    """The newest intact checkpoint of a run (None when it has none). A damaged newer one is
    skipped with a warning (``warn(message)``, default: a ``ctrg: warning:`` line on stderr);
    :class:`CheckpointError` when there are checkpoints but none is intact."""
    found = list_checkpoints(out_dir)
    for folder in reversed(found):
        problem = checkpoint_problem(folder)
        if not problem:
            return folder
        message = f"checkpoint {folder} is damaged ({problem}); skipping it"
        if warn is not None:
            warn(f"warning: {message}")
        else:
            print(f"ctrg: warning: {message}", file=sys.stderr, flush=True)
    if found:
        raise CheckpointError(f"no intact checkpoint in {found[-1].parent}: every one is damaged "
                              f"(newest: {found[-1].name}); start again without --resume")
    return None


def prune_checkpoints(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints, and leftovers of interrupted writes."""
    for path in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".step-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def load_training_state(folder) -> TrainingState:
    """Read a checkpoint folder's optimizer/scheduler/RNG state and meta (weights: see ``load_weights``)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_NAME).read_text())
        state = torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"checkpoint {folder} is incomplete: {Path(exc.filename).name} is missing") from exc
    except Exception as exc:
        raise CheckpointError(f"checkpoint {folder} cannot be read: {str(exc).splitlines()[0]}") from exc
    return TrainingState(step=int(meta["step"]), epoch=int(meta["epoch"]),
                         batch_in_epoch=int(meta["batch_in_epoch"]), optimizer=state["optimizer"],
                         scheduler=state.get("scheduler") or {}, scaler=state.get("scaler"),
                         rng=state["rng"], meta=meta, folder=folder)


def read_train_config(folder) -> dict:
    path = Path(folder) / TRAIN_CONFIG_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
