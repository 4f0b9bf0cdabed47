"""Stopping a run (SIGINT/SIGTERM: finish the step, checkpoint, exit 130/143, resumable), resuming
past a damaged newest checkpoint, and a full disk while writing one (one ``ctrg: error:`` line)."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ctrg_desktop.cli import main
from ctrg_desktop.training import runs, stop
from ctrg_desktop.training.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints
from ctrg_desktop.training.loop import train


class _SignalAtStep(io.StringIO):
    """A log stream that sends this process ``sig`` when the loop logs step ``step``."""

    def __init__(self, step: int, sig=signal.SIGINT):
        super().__init__()
        self.marker, self.sig, self.sent = f"step {step}/", sig, False

    def write(self, text):
        if self.marker in text and not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.sig)  # handled between bytecodes, in the middle of the run
        return super().write(text)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_finishes_the_step_writes_a_checkpoint_and_resumes(tiny_data, tmp_path, tiny_cfg, text_models,
                                                                         sig):
    cfg = tiny_cfg(steps=8, checkpoint_every=0)
    stream = _SignalAtStep(3, sig)
    previous = signal.getsignal(sig)
    with pytest.raises(stop.TrainingStopped) as stopped:
        with stop.handle_stop_signals():
            train(cfg, tiny_data, tmp_path, stream=stream, **text_models)
    assert signal.getsignal(sig) is previous and not stop.requested()  # handler restored, flag cleared
    assert stopped.value.exit_code == 128 + sig and stopped.value.exit_code in runs.STOPPED_CODES
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000003"]
    assert stopped.value.checkpoint == tmp_path / "checkpoints" / "step-00000003"
    assert f"stopped: checkpoint {tmp_path / 'checkpoints' / 'step-00000003'} written; continue with --resume" \
        in stream.getvalue()
    resumed = io.StringIO()
    result = train(cfg, tiny_data, tmp_path, resume=True, stream=resumed, **text_models)
    assert result.start_step == 3 and result.step == 8 and result.model_dir is not None


def test_ctrg_train_exits_130_after_sigint_with_a_checkpoint(tiny_data, tmp_path):
    """The wizard's Stop: SIGINT to ``ctrg train``; a checkpoint, no traceback, exit 130."""
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"stage": "structure", "model": "tiny", "steps": 500, "batch_size": 2, "lr": 1e-3,
                                  "log_every": 1, "checkpoint_every": 0, "num_workers": 0, "seed": 0,
                                  "device": "cpu"}))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ctrg_desktop.cli", "train", "structure", "--config", str(config),
                             "--data", str(tiny_data), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "train_log.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "stopped: checkpoint" in stderr and "continue with --resume" in stderr
    [checkpoint] = list_checkpoints(out)
    assert int(checkpoint.name.split("-")[1]) >= 2 and not (out / "model").exists()


def test_resume_skips_a_truncated_newest_checkpoint(tiny_data, tmp_path, tiny_cfg, text_models, capsys):
    cfg = tiny_cfg(steps=8, checkpoint_every=2, keep_checkpoints=3)
    train(cfg, tiny_data, tmp_path, stop_after=5, stream=io.StringIO(), **text_models)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000004"]
    newest = tmp_path / "checkpoints" / "step-00000004"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])  # e.g. a copy cut short
    capsys.readouterr()
    stream = io.StringIO()
    result = train(cfg, tiny_data, tmp_path, resume=True, stream=stream, **text_models)
    err = capsys.readouterr().err
    assert f"ctrg: warning: checkpoint {newest} is damaged (model.safetensors is damaged)" in err
    assert result.start_step == 2 and result.step == 8 and "resuming from" in stream.getvalue()


def test_a_truncated_state_file_and_all_damaged(tiny_data, tmp_path, tiny_cfg, text_models):
    cfg = tiny_cfg(steps=8, checkpoint_every=2, keep_checkpoints=3)
    train(cfg, tiny_data, tmp_path, stop_after=5, stream=io.StringIO(), **text_models)
    state = tmp_path / "checkpoints" / "step-00000004" / "training_state.pt"
    state.write_bytes(state.read_bytes()[:100])
    warnings = []
    assert latest_checkpoint(tmp_path, warn=warnings.append).name == "step-00000002"
    assert warnings and "training_state.pt is damaged" in warnings[0]
    (tmp_path / "checkpoints" / "step-00000002" / "meta.json").write_text("{")
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        latest_checkpoint(tmp_path, warn=warnings.append)


def _train_args(tiny_data, tmp_path):
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"stage": "structure", "model": "tiny", "steps": 2, "batch_size": 2, "lr": 1e-3,
                                  "log_every": 1, "checkpoint_every": 0, "num_workers": 0, "seed": 0,
                                  "device": "cpu"}))
    return ["train", "structure", "--config", str(config), "--data", str(tiny_data), "--out", str(tmp_path / "run")]


def test_disk_full_while_saving_a_checkpoint_is_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    assert main(_train_args(tiny_data, tmp_path)) == 2
    err = capsys.readouterr().err
    target = tmp_path / "run" / "checkpoints" / "step-00000002" / "training_state.pt"
    assert err.strip().splitlines()[-1] == f"ctrg: error: no space left on device while writing {target}"
    assert "Traceback" not in err
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == []  # no partial checkpoint left behind


def test_disk_full_reported_by_torch_as_a_runtime_error(tiny_data, tmp_path, monkeypatch, capsys):
    """torch.save reports a full disk as "file write failed" (no errno): the free space decides."""
    import shutil as shutil_module

    from ctrg_desktop.model import checkpoint as model_checkpoint

    def failed(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
                           "data/3: file write failed")

    monkeypatch.setattr(torch, "save", failed)
    usage = shutil_module.disk_usage(tmp_path)
    monkeypatch.setattr(model_checkpoint.shutil, "disk_usage", lambda path: usage._replace(free=4096))
    assert main(_train_args(tiny_data, tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ctrg: error: no space left on device while writing ")
    assert err[-1].endswith("training_state.pt")
