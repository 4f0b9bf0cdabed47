"""A training run's state (``run.json``): reading, listing, and settling it when its process ends."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ctrg_desktop.processes import pid_exists
from ctrg_desktop.training.run_folders import (CONFIG_FILE, CONSOLE_FILE, LOG_FILE, RUN_FILE, TRAIN_DIR, TRAIN_KINDS,
                                               RunError, runs_root)
from ctrg_desktop.training.run_log import last_step

ACTIVE = ("running", "paused")
#: Exit codes of a process stopped from outside: SIGINT (130), SIGKILL / SIGTERM (by signal or 128 + n).
STOPPED_CODES = {130, 137, 143, -int(signal.SIGINT), -int(signal.SIGTERM), -int(getattr(signal, "SIGKILL", 9))}
RESUMABLE = ("running", "paused", "interrupted", "cancelled", "failed")


@dataclass
class RunState:
    """Everything needed to show, resume, evaluate and register one run; saved as ``run.json``."""

    id: str
    folder: str
    kind: str
    stage: str
    parent_model: str               #: zoo name of the starting model
    parent_folder: str
    data_dirs: list[str]            #: the folders the user chose
    data_dir: str                   #: what ``--data`` gets (one of them, or the merged ``data/``)
    steps: int
    device: str = "cpu"             #: "cpu" or "cuda"
    nproc: int = 1                  #: processes (GPUs) under torch.distributed.run
    status: str = "new"             #: new running paused interrupted cancelled failed finished registered
    created: str = ""
    started: str | None = None
    ended: str | None = None
    pid: int | None = None
    command: list[str] = field(default_factory=list)
    returncode: int | None = None
    message: str = ""
    s_per_step: float | None = None
    startup_s: float | None = None
    eval_split: str | None = None
    metrics: dict = field(default_factory=dict)       #: "new" / "parent" -> metrics JSON path
    registered: dict = field(default_factory=dict)    #: name, folder
    cancel_requested: bool = False

    # -- paths
    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def out_dir(self) -> Path:
        return self.path / TRAIN_DIR

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG_FILE

    @property
    def console_path(self) -> Path:
        return self.path / CONSOLE_FILE

    @property
    def model_dir(self) -> Path:
        return self.out_dir / "model"

    @property
    def title(self) -> str:
        return f"{self.id}: {TRAIN_KINDS.get(self.kind, ('', '', self.kind))[2]} from {self.parent_model}"

    def save(self) -> Path:
        """Write ``run.json`` atomically."""
        path = self.path / RUN_FILE
        tmp = path.with_name(f".{RUN_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def config(self):
        from ctrg_desktop.training.config import TrainConfig

        return TrainConfig.load(self.config_path)


def load_run(folder) -> RunState:
    path = Path(folder) / RUN_FILE
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(RunState)}
        state = RunState(**{k: v for k, v in data.items() if k in known})
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise RunError(f"cannot read run state {path}: {exc}") from exc
    state.folder = str(Path(folder))
    return state


def list_runs(root=None) -> list[RunState]:
    """Every readable run under ``root`` (default :func:`runs_root`), newest first, status refreshed."""
    root = Path(root) if root is not None else runs_root()
    found = []
    for folder in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        if (folder / RUN_FILE).is_file():
            try:
                found.append(refresh(load_run(folder)))
            except RunError:
                continue
    return found


def resumable_runs(root=None) -> list[RunState]:
    """Runs that stopped before the end (app closed, process killed, cancelled, failed) or still run."""
    return [r for r in list_runs(root) if r.status in RESUMABLE]


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` runs (a zombie or a recycled pid of another program counts as dead on Linux)."""
    if not pid or not pid_exists(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            return b"ctrg_desktop" in proc.joinpath("cmdline").read_bytes()
        except (OSError, IndexError):
            return False
    return True


def refresh(state: RunState) -> RunState:
    """An active run whose process is gone becomes ``finished`` (model written) or ``interrupted``."""
    if state.status in ACTIVE and not pid_alive(state.pid):
        settle(state, None)
    return state


def settle(state: RunState, returncode: int | None) -> RunState:
    """Record the end of the training process (``returncode`` None: unknown, e.g. it was not ours)."""
    state.returncode, state.pid, state.ended = returncode, None, now()
    done = state.model_dir.joinpath("model.safetensors").is_file() and last_step(state.log_path) >= state.steps
    if returncode == 0 or (returncode is None and done):
        state.status, state.message = "finished", f"trained {state.steps} steps"
    elif state.cancel_requested:
        state.status, state.message = "cancelled", f"cancelled at step {last_step(state.log_path)}"
    elif returncode is None or returncode in STOPPED_CODES:
        state.status = "interrupted"
        state.message = f"stopped at step {last_step(state.log_path)} (resume continues from the last checkpoint)"
    else:
        state.status, state.message = "failed", error_line(state.console_path) or f"exit code {returncode}"
    state.cancel_requested = False
    state.save()
    return state


def error_line(console: Path) -> str:
    """The last ``ctrg: error: ...`` (or traceback) line of a console log, '' when none."""
    try:
        lines = console.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("ctrg: error:") or re.match(r"^\w+(Error|Exception)\b", line):
            return line
    return ""
