"""The training wizard with real widgets and real processes: every page on a small phantom CT-RATE
folder, a dry run, a short training through QProcess (pause / continue, live curve), evaluation of
both models, registration into a temporary zoo; a run stopped by quitting is offered and resumed."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PySide6 import QtCore

from ctrg_desktop.app.wizard import TrainingWizard
from ctrg_desktop.app.wizard.wizard import DATA, DEVICE, HYPER, MODEL, RESULTS, RUN, START
from ctrg_desktop.training import run_log, runs

pytestmark = pytest.mark.gui
LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def phantom_data(tmp_path_factory):
    """6 phantom studies in the CT-RATE layout: 4 train, 1 valid, 1 test."""
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    out = tmp_path_factory.mktemp("ctrate")
    return generate_dataset(out, 6, seed=3, config=PhantomConfig(shape=(32, 64, 64), spacing=(9, 5, 5)), workers=1)


@pytest.fixture(scope="module")
def start_zoo(tmp_path_factory):
    """The zoo the wizard starts from: one tiny model."""
    from ctrg_desktop.model import load_tokenizer
    from ctrg_desktop.model.registry import build_model

    zoo = tmp_path_factory.mktemp("zoo")
    build_model("tiny", tokenizer=load_tokenizer("minilm")).save_pretrained(zoo / "tiny-base")
    (zoo / "tiny-base" / "card.md").write_text("# tiny base\n\n- random tiny model for tests\n")
    return zoo


@pytest.fixture
def user_dir(tmp_path, monkeypatch, start_zoo):
    monkeypatch.setenv("CTRG_DATA_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(start_zoo))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the children: a shared 2-core machine
    return tmp_path / "user"


def _walk_to_device(qtbot, wiz, data_dir, kind: str, steps: int) -> runs.RunState:
    """Data (the corrections folder does not exist: add the phantom folder) -> kind -> steps."""
    data = wiz.pages[DATA]
    qtbot.waitUntil(lambda: not data.busy, timeout=10_000)
    assert not data.isComplete() and "does not exist yet" in data.problem.text()
    data.extra_check.setChecked(True)
    data.extra.setText(str(data_dir))
    qtbot.waitUntil(data.isComplete, timeout=10_000)
    assert "6 studies (4 train, 1 valid, 1 test)" in data.overview.text()
    assert data.structures.rowCount() == 10 and data.labels.rowCount() == 18
    assert wiz.data_dirs == [Path(data_dir)]
    wiz.next()
    assert wiz.currentId() == MODEL
    page = wiz.pages[MODEL]
    assert page.models.currentData() == "tiny-base" and page.models.count() == 1
    llm = page.kind_buttons["llm"]
    if runs.template_path("llm").is_file():
        assert llm.isEnabled() and llm.toolTip() == "demo_report_llm.json"
    else:
        assert not llm.isEnabled() and "demo_report_llm.json is not installed" in llm.toolTip()
    page.kind_buttons[kind].setChecked(True)
    assert page.isComplete()
    wiz.next()
    hyper = wiz.pages[HYPER]
    assert hyper.preset.currentText() == "quick" and hyper.steps.value() == runs.PRESETS["quick"]["steps"]
    hyper.steps.setValue(0)
    assert not hyper.isComplete() and "steps" in hyper.problem.text()
    hyper.steps.setValue(steps)
    hyper.lr.setText("1")
    assert not hyper.isComplete() and "learning rate" in hyper.problem.text()
    hyper.lr.setText("1e-3")
    hyper.batch.setValue(8)
    assert not hyper.isComplete() and "needs at least 8 training studies" in hyper.problem.text()
    hyper.batch.setValue(2)
    assert hyper.isComplete() and hyper.preset.currentText() == "custom"
    assert f"about {steps * 2 / 4:.1f} passes over the 4 training studies" in hyper.info.text()
    wiz.next()
    assert wiz.currentId() == DEVICE
    state = wiz.run
    config = json.loads(state.config_path.read_text())
    assert (config["stage"], config["steps"], config["lr"], config["batch_size"]) == (
        runs.TRAIN_KINDS[kind][0], steps, 1e-3, 2)
    assert Path(config["init_from"]).name == "tiny-base" and state.data_dir == str(data_dir)
    return state


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.slow
def test_wizard_trains_evaluates_and_registers(qtbot, phantom_data, user_dir, tmp_path, monkeypatch):
    configs = tmp_path / "configs"  # the templates without the LLM one: its stage is offered disabled
    configs.mkdir()
    for kind in ("structure", "report"):
        shutil.copy(runs.template_path(kind), configs)
    monkeypatch.setenv("CTRG_TRAIN_CONFIGS", str(configs))
    wiz = TrainingWizard(zoo=tmp_path / "zoo-out", dry_run_steps=3)
    qtbot.addWidget(wiz)
    wiz.show()
    assert wiz.currentId() == DATA and not wiz.isModal()
    state = _walk_to_device(qtbot, wiz, phantom_data, "report", steps=20)

    device = wiz.pages[DEVICE]
    qtbot.waitUntil(lambda: device.gpus is not None, timeout=60_000)  # probed in a child process
    assert device.cpu.isChecked() and device.gpu.isEnabled() == (device.gpus > 0)
    assert device.multi.isHidden() == (device.gpus < 2)
    qtbot.mouseClick(device.measure, LEFT)
    qtbot.waitUntil(lambda: device.estimate is not None or "failed" in device.estimate_label.text(), timeout=90_000)
    assert device.estimate is not None, device.estimate_label.text()
    assert "s/step" in device.estimate_label.text() and runs.load_run(state.path).s_per_step > 0
    print(f"\ndry run: {device.estimate_label.text()}")

    wiz.next()  # "Start training"
    page = wiz.pages[RUN]
    assert wiz.currentId() == RUN and wiz.training and state.status == "running"
    qtbot.waitUntil(lambda: run_log.last_step(state.log_path) >= 3, timeout=60_000)
    if sys.platform.startswith("linux"):
        qtbot.mouseClick(page.pause_button, LEFT)
        assert state.status == "paused" and page.pause_button.text() == "Continue"
        qtbot.waitUntil(lambda: _proc_state(state.pid) == "T", timeout=5_000)
        qtbot.wait(300)
        paused_at = run_log.last_step(state.log_path)
        qtbot.wait(800)
        assert run_log.last_step(state.log_path) == paused_at < 20
        qtbot.mouseClick(page.pause_button, LEFT)
        assert state.status == "running"
    qtbot.waitUntil(page.isComplete, timeout=120_000)
    steps, losses = page.curves["loss"].getData()
    assert list(steps) == list(range(1, 21)) and len(losses) == 20
    assert state.status == "finished" and "20/20" in page.status.text() and not wiz.training
    print(f"training: {page.status.text()}")

    wiz.next()
    results = wiz.pages[RESULTS]
    assert wiz.currentId() == RESULTS and not results.register_button.isEnabled()  # waits for the metrics
    qtbot.waitUntil(lambda: results.table.rowCount() == 11 or "failed" in results.status.text(), timeout=150_000)
    assert results.table.rowCount() == 11, results.status.text()
    assert results.table.item(0, 0).text() == "BLEU-1" and float(results.table.item(0, 2).text()) >= 0
    assert "tiny-base" in results.table.horizontalHeaderItem(1).text()
    results.name.setText("tiny-ft")
    with qtbot.waitSignal(wiz.model_registered, timeout=120_000) as registered:  # ctrg register, a child
        qtbot.mouseClick(results.register_button, LEFT)
    assert registered.args == ["tiny-ft", str(tmp_path / "zoo-out" / "tiny-ft")]
    card = (tmp_path / "zoo-out" / "tiny-ft" / "card.md").read_text()
    assert "parent model: tiny-base" in card and "| BLEU-1 |" in card and "ctrg train report" in card
    with qtbot.waitSignal(wiz.use_model, timeout=2_000) as used:
        qtbot.mouseClick(results.use_button, LEFT)
    assert used.args == ["tiny-ft"] and runs.load_run(state.path).status == "registered"


def test_register_runs_ctrg_register_in_a_child_process(qtbot, phantom_data, user_dir, start_zoo, tmp_path):
    """Register in zoo: a taken name is refused at once; a free one is copied by ``ctrg register`` in a
    child process (torch stays out of the GUI process), then recorded in run.json and announced."""
    state = runs.create_run("report", "tiny-base", [phantom_data], runs.Hyperparameters(5, 1e-3, 2))
    shutil.copytree(start_zoo / "tiny-base", state.model_dir)  # a trained model, as a finished run leaves it
    state.status, state.eval_split = "finished", None  # no held-out studies: no evaluation to wait for
    state.save()
    zoo = tmp_path / "zoo-out"
    wiz = TrainingWizard(zoo=zoo)
    qtbot.addWidget(wiz)
    wiz.set_run(state)
    wiz.setStartId(RESULTS)  # as the wizard reaches it after a run: the page initialised on show
    wiz.show()
    results = wiz.pages[RESULTS]
    assert wiz.currentId() == RESULTS
    assert results.register_button.isEnabled() and "evaluation skipped" in results.status.text()
    results.name.setText("tiny-base")
    qtbot.mouseClick(results.register_button, LEFT)
    assert "exists already" in results.register_status.text() and results.registering is None
    results.name.setText("tiny-ft")
    with qtbot.waitSignal(wiz.model_registered, timeout=120_000) as registered:
        qtbot.mouseClick(results.register_button, LEFT)
        assert results.registering is not None and not results.register_button.isEnabled()
    assert registered.args == ["tiny-ft", str(zoo / "tiny-ft")]
    assert "parent model: tiny-base" in (zoo / "tiny-ft" / "card.md").read_text()
    assert runs.load_run(state.path).registered == {"name": "tiny-ft", "folder": str(zoo / "tiny-ft")}
    assert results.use_button.isEnabled() and "Registered as tiny-ft" in results.register_status.text()
    shots = Path(os.environ.get("CTRG_TEST_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    assert wiz.grab().save(str(shots / "wizard_registered.png"))


@pytest.mark.slow
def test_run_stopped_then_quit_is_offered_and_resumed(qtbot, phantom_data, user_dir):
    first = TrainingWizard()
    qtbot.addWidget(first)
    first.show()
    state = _walk_to_device(qtbot, first, phantom_data, "structure", steps=30)
    first.next()
    page = first.pages[RUN]
    qtbot.waitUntil(lambda: run_log.last_step(state.log_path) >= 4, timeout=60_000)
    qtbot.mouseClick(page.cancel_button, LEFT)  # "Stop": SIGINT, a checkpoint, exit
    qtbot.waitUntil(lambda: state.status == "cancelled", timeout=30_000)
    assert page.resume_button.isEnabled() and not page.pause_button.isEnabled() and not page.isComplete()
    assert "cancelled at step" in page.status.text() and "stopped: checkpoint" in state.console_path.read_text()
    qtbot.mouseClick(page.resume_button, LEFT)
    assert state.status == "running" and "--resume" in state.command
    qtbot.waitUntil(lambda: run_log.last_step(state.log_path) >= 8, timeout=60_000)
    first.shutdown()  # what the app does when it quits
    assert state.status == "interrupted" and not first.training
    assert "stopped: checkpoint" in state.console_path.read_text()
    stopped_at = run_log.last_step(state.log_path)
    first.close()

    second = TrainingWizard()
    qtbot.addWidget(second)
    second.show()
    assert second.currentId() == START
    start = second.pages[START]
    assert start.list.count() == 1 and state.id in start.list.item(0).text()
    assert f"interrupted at step {stopped_at}/30" in start.list.item(0).text()
    start.list.setCurrentRow(0)
    assert start.resume_button.isChecked()
    second.next()
    page = second.pages[RUN]
    assert second.currentId() == RUN and "--resume" in second.run.command
    qtbot.waitUntil(page.isComplete, timeout=90_000)
    assert [r["step"] for r in run_log.read_log(state.log_path)] == list(range(1, 31))
    assert f"resuming from {state.out_dir / 'checkpoints'}" in state.console_path.read_text()
    assert runs.resumable_runs() == []


def test_tools_menu_opens_the_wizard_without_blocking(window, qtbot, user_dir):
    action = next(a for a in window.actions_ if a.text() == "&Train from corrections...")
    action.trigger()
    wiz = window.training_wizard
    qtbot.waitExposed(wiz)
    assert wiz.isVisible() and not wiz.isModal() and wiz.currentId() == DATA
    assert QtCore.QCoreApplication.instance().activeModalWidget() is not wiz and window.isEnabled()
    action.trigger()
    assert window.training_wizard is wiz  # the open one is raised, not replaced
    if hasattr(window, "drafting"):  # "Use in the app" switches the Report menu's model
        wiz.use_model.emit("tiny-base")
        assert window.drafting.model == "tiny-base"
    wiz.close()
    assert not wiz.isVisible() and window.isVisible()
