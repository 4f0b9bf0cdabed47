"""The wizard's hyper-parameters: presets per training kind, their checks, and the derived TrainConfig."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ctrg_desktop.training.run_folders import TRAIN_KINDS, RunError, template_path

#: Hyper-parameter presets: steps and a factor on the template's learning rate.
PRESETS = {
    "quick": {"steps": 50, "lr_factor": 1.0, "batch_size": 2, "warmup_fraction": 0.1},
    "standard": {"steps": 300, "lr_factor": 0.5, "batch_size": 2, "warmup_fraction": 0.1},
    "thorough": {"steps": 1500, "lr_factor": 0.25, "batch_size": 2, "warmup_fraction": 0.05},
}
LR_RANGE = (1e-7, 1e-2)
MAX_BATCH = 64


@dataclass
class Hyperparameters:
    steps: int
    lr: float
    batch_size: int
    warmup_fraction: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def template_config(kind: str) -> dict:
    from ctrg_desktop.training.config import read_config_file

    path = template_path(kind)
    if not path.is_file():
        raise RunError(f"training kind {kind!r} needs {path}, which is not installed")
    return read_config_file(path)


def preset(name: str, kind: str) -> Hyperparameters:
    """The values of a preset for a kind: steps, the template's lr times the preset's factor, batch."""
    from ctrg_desktop.training.config import DEFAULT_LR

    if name not in PRESETS:
        raise RunError(f"unknown preset {name!r}; choose from {list(PRESETS)}")
    p = PRESETS[name]
    stage = TRAIN_KINDS[kind][0]
    try:
        base_lr = template_config(kind).get("lr") or DEFAULT_LR[stage]
    except (RunError, ValueError):
        base_lr = DEFAULT_LR[stage]
    return Hyperparameters(steps=p["steps"], lr=float(f"{base_lr * p['lr_factor']:.3g}"),
                           batch_size=p["batch_size"], warmup_fraction=p["warmup_fraction"])


def validate_hyperparameters(h: Hyperparameters, train_studies: int | None = None, nproc: int = 1) -> list[str]:
    """Problems with the values, one line each ([] when they are usable)."""
    problems = []
    if not isinstance(h.steps, int) or h.steps < 1:
        problems.append(f"steps must be a whole number above 0, got {h.steps}")
    if not (isinstance(h.lr, (int, float)) and math.isfinite(h.lr) and LR_RANGE[0] <= h.lr <= LR_RANGE[1]):
        problems.append(f"learning rate must lie in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], got {h.lr}")
    if not isinstance(h.batch_size, int) or not 1 <= h.batch_size <= MAX_BATCH:
        problems.append(f"batch size must lie in 1..{MAX_BATCH}, got {h.batch_size}")
    elif train_studies is not None and h.batch_size * nproc > train_studies:
        problems.append(f"batch size {h.batch_size} x {nproc} process(es) needs at least "
                        f"{h.batch_size * nproc} training studies; there are {train_studies}")
    if not 0 <= h.warmup_fraction < 1:
        problems.append(f"warm-up fraction must lie in [0, 1), got {h.warmup_fraction}")
    return problems


def derive_config(kind: str, parent_folder, h: Hyperparameters, device: str = "cpu", cache_dir=None,
                  **changes):
    """The template of ``kind`` with the starting model, the hyper-parameters and the device
    (``changes`` override any field); a validated TrainConfig."""
    from ctrg_desktop.training.config import TrainConfig

    problems = validate_hyperparameters(h)
    if problems:
        raise RunError(problems[0])
    data = template_config(kind)
    data.pop("epochs", None)
    steps = h.steps
    data.update(stage=TRAIN_KINDS[kind][0], steps=steps, lr=h.lr, batch_size=h.batch_size,
                warmup_fraction=h.warmup_fraction, device=device,
                log_every=max(1, min(10, steps // 50)), checkpoint_every=max(1, min(200, steps // 10)),
                keep_checkpoints=2, cache_dir=str(cache_dir) if cache_dir else "auto")
    if parent_folder is not None:
        data["init_from"] = str(parent_folder)
    data.update(changes)
    try:
        return TrainConfig.from_dict(data, where=f"derived config of {template_path(kind).name}")
    except ValueError as exc:
        raise RunError(str(exc)) from exc
