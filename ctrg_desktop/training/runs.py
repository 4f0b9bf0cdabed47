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

Data summaries: :mod:`~ctrg_desktop.training.run_data`; log, progress and estimate:
:mod:`~ctrg_desktop.training.run_log`; metrics, card and zoo: :mod:`~ctrg_desktop.training.run_results`.
Every process is the ``ctrg`` command line (``python -m ctrg_desktop.cli``, under
``torch.distributed.run`` for several GPUs); the app runs the same commands with QProcess.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.catalogue import CONFIG_NAME, WEIGHTS_NAME, zoo_entries
from ctrg_desktop.resources import PROJECT_ROOT, user_data_dir
from ctrg_desktop.training.run_data import held_out_split, merge_datasets
from ctrg_desktop.training.run_log import Estimate, estimate_from_log, last_step, read_log

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
#: Hyper-parameter presets: steps and a factor on the template's learning rate.
PRESETS = {
    "quick": {"steps": 50, "lr_factor": 1.0, "batch_size": 2, "warmup_fraction": 0.1},
    "standard": {"steps": 300, "lr_factor": 0.5, "batch_size": 2, "warmup_fraction": 0.1},
    "thorough": {"steps": 1500, "lr_factor": 0.25, "batch_size": 2, "warmup_fraction": 0.05},
}
LR_RANGE = (1e-7, 1e-2)
MAX_BATCH = 64
ACTIVE = ("running", "paused")
#: Exit codes of a process stopped from outside: SIGINT (130), SIGKILL / SIGTERM (by signal or 128 + n).
_STOPPED_CODES = {130, 137, 143, -int(signal.SIGINT), -int(signal.SIGTERM), -int(getattr(signal, "SIGKILL", 9))}
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)
RESUMABLE = ("running", "paused", "interrupted", "cancelled", "failed")


class RunError(CtrgError):
    """A training run that cannot be set up, started, resumed or registered (one line)."""


# ----------------------------------------------------------------------------------- locations

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


# ----------------------------------------------------------------------------------- the starting model

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


# ----------------------------------------------------------------------------------- state

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
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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
    elif returncode is None or returncode in _STOPPED_CODES:
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


# ----------------------------------------------------------------------------------- configs

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


# ----------------------------------------------------------------------------------- commands

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


# ----------------------------------------------------------------------------------- processes

def mark_started(state: RunState, pid: int, resume: bool) -> None:
    state.command = train_command(state, resume)
    state.status, state.pid, state.started, state.ended = "running", pid, now(), None
    state.returncode, state.message, state.cancel_requested = None, "", False
    with open(state.console_path, "a") as f:
        f.write(f"$ {shell_line(state.command)}\n")
    state.save()


def start(state: RunState, resume: bool = False) -> subprocess.Popen:
    """Start the training process in its own session (output to ``console.log``); the app uses
    QProcess with :func:`train_command` instead. Call :func:`settle` with its exit code."""
    if state.status in ACTIVE and pid_alive(state.pid):
        raise RunError(f"run {state.id} is already running (pid {state.pid})")
    state.out_dir.mkdir(parents=True, exist_ok=True)
    mark_started(state, 0, resume)
    with open(state.console_path, "ab") as console:
        proc = subprocess.Popen(state.command, stdout=console, stderr=subprocess.STDOUT, env=process_env(),
                                start_new_session=True)
    state.pid = proc.pid
    state.save()
    return proc


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (Linux /proc; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields_[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def signal_run(pid: int, sig: int) -> None:
    """Send ``sig`` to a training process and its workers (its process group when it leads one)."""
    if not pid:
        return
    try:
        if hasattr(os, "getpgid") and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        return
    for p in [pid, *_descendants(pid)]:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def pause(state: RunState) -> None:
    """Stop the process (SIGSTOP; POSIX only)."""
    if not hasattr(signal, "SIGSTOP"):
        raise RunError("pausing needs a POSIX system (SIGSTOP)")
    signal_run(state.pid, signal.SIGSTOP)
    state.status = "paused"
    state.save()


def unpause(state: RunState) -> None:
    signal_run(state.pid, signal.SIGCONT)
    state.status = "running"
    state.save()


def request_stop(state: RunState, cancel: bool = True) -> None:
    """Interrupt the process (SIGINT: the loop writes a checkpoint and exits, resumable later)."""
    state.cancel_requested = cancel
    state.save()
    signal_run(state.pid, signal.SIGINT)
    if hasattr(signal, "SIGCONT"):
        signal_run(state.pid, signal.SIGCONT)  # a paused process must run to handle SIGINT


# ----------------------------------------------------------------------------------- dry run

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


def dry_run(state: RunState, steps: int = 3, timeout: float | None = None) -> Estimate:
    """Run the timing run to the end here (blocking) and record the estimate in the state."""
    cmd, log = dry_run_setup(state, steps)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=process_env(), timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise RunError(f"the dry run failed: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    estimate = estimate_from_log(read_log(log), wall)
    finish_dry_run(state, estimate)
    return estimate
