"""Where training runs live and what the wizard can train: the run folder's file names, the
training kinds and their template configs, and the starting model (read from the zoo's catalogue,
no torch). A run folder's layout: :mod:`ctrg_desktop.training.runs`."""

from __future__ import annotations

import os
from pathlib import Path

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.catalogue import CONFIG_NAME, WEIGHTS_NAME, zoo_entries
from ctrg_desktop.resources import PROJECT_ROOT, user_data_dir

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
CONSOLE_FILE = "console.log"
LOG_FILE = "train_log.jsonl"  # written by the training loop into train/
TRAIN_DIR, DATA_DIR, CACHE_DIR, EVAL_DIR, DRYRUN_DIR = "train", "data", "cache", "eval", "dryrun"

#: What the wizard can train: kind -> (stage, template config file, label).
TRAIN_KINDS = {
    "structure": ("structure", "demo_structure.json", "Structure stage (contrastive, stage 1)"),
    "report": ("report", "demo_report.json", "Report stage with the BERT decoder (stage 2)"),
    "llm": ("report", "demo_report_llm.json", "Report stage: LoRA on the LLM decoder"),
}


class RunError(CtrgError):
    """A training run that cannot be set up, started, resumed or registered (one line)."""


def runs_root() -> Path:
    """``user_data_dir()/runs`` (``CTRG_DATA_DIR`` moves it)."""
    return user_data_dir() / "runs"


def corrections_dir() -> Path:
    """The corrections dataset the app writes (CT-RATE layout)."""
    return user_data_dir() / "corrections"


def train_configs_dir() -> Path:
    return Path(os.environ.get("CTRG_TRAIN_CONFIGS", PROJECT_ROOT / "configs" / "train"))


def template_path(kind: str) -> Path:
    if kind not in TRAIN_KINDS:
        raise RunError(f"unknown training kind {kind!r}; choose from {list(TRAIN_KINDS)}")
    return train_configs_dir() / TRAIN_KINDS[kind][1]


def available_kinds() -> dict[str, str]:
    """kind -> '' when its template config exists, else why it is not offered."""
    return {kind: "" if template_path(kind).is_file() else f"{template_path(kind).name} is not installed"
            for kind in TRAIN_KINDS}


def start_model_folder(name_or_folder: str) -> Path:
    """The folder of a usable zoo model (or a model folder path); ``RunError`` otherwise (read from
    the zoo's catalogue: no torch in the GUI process; the training process loads it with the zoo)."""
    path = Path(name_or_folder).expanduser()
    if (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file():
        return path
    choices = {c.name: c for c in zoo_entries()}
    choice = choices.get(str(name_or_folder))
    if choice is None:
        usable = ", ".join(n for n, c in choices.items() if not c.problem) or "nothing"
        raise RunError(f"no model {str(name_or_folder)!r} in the model zoo (it has: {usable})")
    if choice.problem:
        raise RunError(f"model {choice.name} cannot be trained from: {choice.problem}")
    return Path(choice.folder)
