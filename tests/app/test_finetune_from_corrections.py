"""The correction-to-training loop end to end: a report corrected and accepted in the real window
becomes a corrections dataset; ``ctrg train`` fine-tunes the demo model on it, is killed
(SIGKILL) after its first checkpoint and resumed; ``ctrg register`` puts the result in a zoo,
and the registered model loads and drafts the study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("vtkmodules")

from ctrg_desktop.app.drafting.report_model import SentenceRef  # noqa: E402
from ctrg_desktop.corrections import CorrectionsDataset  # noqa: E402
from ctrg_desktop.data.ctrate import CTRateDataset  # noqa: E402
from tests.app.editing_support import drafted_study, mentioned, open_with_draft  # noqa: E402
from tests.app.helpers import until_signal  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.usefixtures("private_folders")]
REPO = Path(__file__).resolve().parents[2]
CORRECTED = "Small nodule of 4 mm in the right upper lobe."


def _ctrg(*args, out_dir: Path, wait: bool = True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "ctrg_desktop.cli", *map(str, args)]
    log = open(out_dir / f"ctrg-{args[0]}-{time.monotonic_ns()}.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if wait:
        assert proc.wait(timeout=600) == 0, Path(log.name).read_text()[-2000:]
    return proc, Path(log.name)


def _accept_corrected_report(window, qtbot, root: Path) -> None:
    study = drafted_study()
    open_with_draft(window, study)
    editing = window.editing
    editing.edit_text(SentenceRef(mentioned(study.draft)[0], 0), CORRECTED)
    outcome = until_signal(qtbot, editing.acceptor.finished, lambda: editing.acceptor.accept(root=root))[0]
    assert outcome.ok, outcome.error


def test_corrections_fine_tune_resume_register_and_draft(window, qtbot, tmp_path):
    import torch

    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.model.zoo import load_model

    root = tmp_path / "corrections"
    CorrectionsDataset(root, split_fractions=(1.0, 0.0, 0.0))  # this dataset's records all train
    _accept_corrected_report(window, qtbot, root)
    records = CTRateDataset(root, split="train").records
    assert len(records) == 1 and CORRECTED in records[0].findings

    config = json.loads((REPO / "configs/train/demo_report.json").read_text())
    config.update(init_from="demo", steps=6, batch_size=1, checkpoint_every=2, log_every=1, cache_dir=str(tmp_path / "cache"),
                  device="cpu", mixed_precision="no")
    (tmp_path / "finetune.json").write_text(json.dumps(config))
    run = tmp_path / "run"
    args = ("train", "report", "--config", tmp_path / "finetune.json", "--data", root, "--out", run)

    proc, log = _ctrg(*args, out_dir=tmp_path, wait=False)
    deadline = time.monotonic() + 300
    while not list((run / "checkpoints").glob("step-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, f"training ended before it could be killed:\n{log.read_text()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run / "model").exists()
    killed_at = max(int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("step-*"))
    assert 2 <= killed_at < 6

    _ctrg(*args, "--resume", out_dir=tmp_path)
    steps = [json.loads(line)["step"] for line in (run / "train_log.jsonl").read_text().splitlines()
             if '"loss"' in line]
    assert steps[-1] == 6 and set(range(killed_at + 1, 7)) <= set(steps)

    zoo = tmp_path / "zoo"
    _ctrg("register", run / "model", "--name", "demo-corrected", "--zoo", zoo, out_dir=tmp_path)
    model = load_model(zoo / "demo-corrected", device="cpu")
    parent = load_model("demo", device="cpu")
    changed = any(not torch.equal(a, b.to(a.dtype)) for a, b in
                  zip(model.decoder.state_dict().values(), parent.decoder.state_dict().values()))
    assert changed, "fine-tuning left the decoder unchanged"
    draft = draft_report(drafted_study().volume, model, device="cpu", num_beams=1, max_length=40)
    assert draft.report.strip() and len(draft.structures) == 10
