"""Run folders of the training wizard: data summary and merge, configs, logs, estimate, and a real
training process killed with SIGKILL and resumed to the end through the run-state API."""

import csv
import json
import shutil
import signal
import subprocess
import time

import pytest

from ctrg_desktop.training import run_data, run_log, run_results, runs


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory, text_models):
    """A zoo holding one tiny model (random weights) to start from."""
    from ctrg_desktop.model.registry import build_model

    zoo = tmp_path_factory.mktemp("zoo")
    build_model("tiny", tokenizer=text_models["tokenizer"]).save_pretrained(zoo / "tiny-base")
    (zoo / "tiny-base" / "card.md").write_text("# tiny base\n\n- random tiny model for tests\n")
    return zoo


@pytest.fixture
def user_dirs(tmp_path, monkeypatch, tiny_zoo):
    monkeypatch.setenv("CTRG_DATA_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(tiny_zoo))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path / "user"


def _extra_dataset(tiny_data, out):
    """A second CT-RATE folder: two studies (one train, one test) re-using a tiny volume, no label CSV."""
    volume = next(tiny_data.glob("train/*/*/*.nii.gz"))
    (out / "radiology_text_reports").mkdir(parents=True)
    for split, name in (("train", "train_90_a_1"), ("test", "test_91_a_1")):
        folder = out / split
        folder.mkdir()
        shutil.copy(volume, folder / f"{name}.nii.gz")
        with open(out / "radiology_text_reports" / f"{split}_reports.csv", "w", newline="") as f:
            csv.writer(f).writerows([["VolumeName", "Findings_EN", "Impressions_EN"],
                                     [name, "Pleural effusion on the right. The heart is enlarged.", "Effusion."]])
    return out


def test_summary_counts_splits_structures_and_labels(tiny_data, tmp_path):
    summary = run_data.summarize_datasets([tiny_data])
    assert summary.ok and summary.records == 6 and summary.splits == {"train": 4, "valid": 1, "test": 1}
    assert summary.label_source == "dataset" and sum(summary.structures.values()) > 6
    assert "lung" in summary.structures and len(summary.labels) == 18
    extra = run_data.summarize_datasets([_extra_dataset(tiny_data, tmp_path / "extra")])
    assert extra.records == 2 and extra.label_source == "labeller"
    assert extra.labels["Pleural effusion"] == 2 and extra.labels["Cardiomegaly"] == 2
    assert extra.structures["pleura"] >= 2 and extra.structures["mediastinum and heart"] >= 2


def test_summary_explains_missing_empty_and_foreign_folders(tmp_path):
    missing = run_data.summarize_datasets([tmp_path / "corrections"])
    assert not missing.ok and "does not exist yet" in missing.message()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    foreign = run_data.summarize_datasets([tmp_path / "other"])
    assert not foreign.ok and "not a CT-RATE layout folder" in foreign.message()
    empty = tmp_path / "empty" / "radiology_text_reports"
    empty.mkdir(parents=True)
    (empty / "train_reports.csv").write_text("VolumeName,Findings_EN,Impressions_EN\n")
    assert "holds no study" in run_data.summarize_datasets([tmp_path / "empty"]).message()


def test_merge_two_folders_reads_as_one(tiny_data, tmp_path):
    from ctrg_desktop.data.ctrate import CTRateDataset

    extra = _extra_dataset(tiny_data, tmp_path / "extra")
    assert run_data.merge_datasets([tiny_data], tmp_path / "merged") == tiny_data
    merged = run_data.merge_datasets([tiny_data, extra, tiny_data], tmp_path / "merged")
    records = CTRateDataset(merged, split=None)
    assert len(records) == 8
    assert [len(CTRateDataset(merged, s)) for s in ("train", "valid", "test")] == [5, 1, 2]
    by_name = {r.volume_name: r for r in records}
    assert len(by_name["train_1_a_1"].labels) == 18 and by_name["train_90_a_1"].labels == {}
    assert by_name["train_1_a_1"].label_map_path is not None
    assert run_data.held_out_split(merged) == "test"
    # every column of every source comes back (the phantoms' clinical information and technique too)
    sources = {r.volume_name: r for root in (tiny_data, extra) for r in CTRateDataset(root, split=None)}
    assert {n: r.layout_row() for n, r in by_name.items()} == {n: r.layout_row() for n, r in sources.items()}
    assert by_name["train_1_a_1"].clinical_information and by_name["train_1_a_1"].technique


def test_presets_validation_and_derived_config(tmp_path, monkeypatch, tiny_zoo):
    quick, thorough = runs.preset("quick", "structure"), runs.preset("thorough", "structure")
    assert quick.steps < thorough.steps and quick.lr > thorough.lr > 0
    assert runs.validate_hyperparameters(quick, train_studies=4) == []
    bad = runs.Hyperparameters(steps=0, lr=1.0, batch_size=0)
    problems = runs.validate_hyperparameters(bad)
    assert len(problems) == 3 and problems[0].startswith("steps")
    assert "training studies" in runs.validate_hyperparameters(runs.Hyperparameters(5, 1e-4, 4), 4, nproc=2)[0]
    config = runs.derive_config("report", tiny_zoo / "tiny-base", runs.Hyperparameters(40, 2e-4, 2), "cpu",
                                cache_dir=tmp_path / "cache")
    assert (config.stage, config.steps, config.lr, config.device) == ("report", 40, 2e-4, "cpu")
    assert config.init_from == str(tiny_zoo / "tiny-base") and config.epochs is None
    assert config.checkpoint_every == 4 and config.cache_dir == str(tmp_path / "cache")
    with pytest.raises(runs.RunError, match="steps"):
        runs.derive_config("report", None, bad)
    if runs.template_path("llm").is_file():  # LoRA on the LLM decoder: the template's decoder, our parent
        llm = runs.derive_config("llm", tiny_zoo / "tiny-base", runs.Hyperparameters(10, 1e-4, 2))
        assert llm.decoder["kind"] == "llm" and llm.init_from == str(tiny_zoo / "tiny-base")
    monkeypatch.setenv("CTRG_TRAIN_CONFIGS", str(tmp_path))
    (tmp_path / "demo_structure.json").write_text('{"stage": "structure", "steps": 5}')
    kinds = runs.available_kinds()
    assert kinds["structure"] == "" and "not installed" in kinds["llm"]


def test_log_tail_reads_complete_lines_and_restarts_after_rewrite(tmp_path):
    log = tmp_path / "train_log.jsonl"
    tail = run_log.LogTail(log)
    assert tail.poll() == ([], False)
    lines = [json.dumps({"step": s, "loss": 3.0 - s, "itc": 1.0, "lr": 1e-3, "elapsed_s": 0.5 * s}) for s in (1, 2, 3)]
    log.write_text(lines[0] + "\n" + lines[1][:10])
    assert [r["step"] for r in tail.poll()[0]] == [1]
    with open(log, "a") as f:
        f.write(lines[1][10:] + "\n" + lines[2] + "\nnot json\n")
    assert [r["step"] for r in tail.poll()[0]] == [2, 3]
    log.write_text(lines[0] + "\n")  # a resumed run rewrites the log
    records, reset = tail.poll()
    assert reset and [r["step"] for r in records] == [1] and len(tail.records) == 1
    curves = run_log.curves([json.loads(x) for x in lines] + [{"step": 3, "eval_loss": 0.7}])
    assert set(curves) == {"loss", "itc", "eval_loss"} and curves["loss"] == ([1, 2, 3], [2.0, 1.0, 0.0])
    p = run_log.progress([json.loads(x) for x in lines], total=10)
    assert (p.step, p.loss, p.s_per_step, p.eta_s) == (3, 0.0, 0.5, 3.5)
    assert run_log.progress([], 10, fallback_s_per_step=2.0).eta_s == 20.0


def test_metrics_table_and_estimate():
    new = {"nlg": {"BLEU-1": 0.5, "BLEU-4": 0.1, "METEOR": None, "ROUGE-L": 0.4, "CIDEr": 0.2},
           "clinical_efficacy": {"micro": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3}},
           "retrieval": {"recall@10": 1.0}, "grounding": {"mean": 0.3},
           "diversity": {"generated": {"distinct_reports": 0.5}}}
    parent = {"nlg": {"BLEU-1": 0.2}, "clinical_efficacy": {"micro": {}}, "retrieval": {}, "grounding": {"mean": None},
              "diversity": {}}
    rows = dict((name, (a, b)) for name, a, b in run_results.compare_metrics(new, parent))
    assert rows["BLEU-1"] == (0.2, 0.5) and rows["METEOR"] == (None, None) and rows["CE F1"][1] == pytest.approx(1 / 3)
    table = run_results.metrics_markdown(run_results.compare_metrics(new, parent), "test", 3)
    assert "| BLEU-1 | 0.200 | 0.500 |" in table and "(3 studies)" in table
    records = [{"step": s, "loss": 1.0, "elapsed_s": 1.0 + 0.25 * (s - 1)} for s in (1, 2, 3)]
    estimate = run_log.estimate_from_log(records, wall_s=8.5)
    assert estimate.s_per_step == 0.25 and estimate.startup_s == 7.0 and estimate.eta(100) == 32.0
    with pytest.raises(ValueError, match="no step"):
        run_log.estimate_from_log([], 1.0)


def _wait_for_step(state, step, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_log.last_step(state.log_path) >= step:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {state.console_path.read_text()[-2000:]}")
        time.sleep(0.05)
    pytest.fail("training made no progress")


@pytest.mark.slow
def test_killed_run_resumes_to_completion_and_registers(tiny_data, user_dirs, tmp_path):
    h = runs.Hyperparameters(steps=30, lr=1e-3, batch_size=2)
    state = runs.create_run("structure", "tiny-base", [tiny_data], h, checkpoint_every=5, log_every=1)
    assert state.path.parent == user_dirs / "runs" and state.status == "new" and state.eval_split == "test"
    assert json.loads(state.config_path.read_text())["steps"] == 30
    proc = runs.start(state)
    assert state.status == "running" and state.pid == proc.pid
    _wait_for_step(state, 12, proc)
    runs.signal_run(proc.pid, signal.SIGKILL)  # the whole session: a crash, no checkpoint at exit
    proc.wait(10)
    killed_at = run_log.last_step(state.log_path)
    assert 12 <= killed_at < 30

    # the app restarts: the run is found, its dead pid makes it "interrupted", and it is offered
    [found] = runs.resumable_runs()
    assert found.id == state.id and found.status == "interrupted" and "resume" in found.message
    proc = runs.start(found, resume=True)
    assert proc.wait(120) == 0, found.console_path.read_text()[-2000:]
    runs.settle(found, proc.returncode)
    assert found.status == "finished" and runs.resumable_runs() == []
    steps = [r["step"] for r in run_log.read_log(found.log_path)]
    assert steps == list(range(1, 31))  # resumed from checkpoint 10 (or 15): no gap, no repeat
    assert "resuming from" in found.console_path.read_text()
    assert "--resume" in found.command

    folder = run_results.register_run(found, "tiny-ft", zoo=tmp_path / "zoo")
    card = (folder / "card.md").read_text()
    assert "tiny-base" in card and str(tiny_data) in card and "--resume" not in card and "ctrg train structure" in card
    from ctrg_desktop.model.zoo import load_model

    assert load_model(folder).config.encoder.dim == 32
    assert runs.load_run(found.path).registered["name"] == "tiny-ft"
    with pytest.raises(runs.RunError, match="exists already"):
        run_results.register_run(found, "tiny-ft", zoo=tmp_path / "zoo")
    with pytest.raises(runs.RunError, match="letters"):
        run_results.check_model_name("bad name", zoo=tmp_path / "zoo")


def _dry_run(state: runs.RunState, steps: int = 3, timeout: float | None = None) -> run_log.Estimate:
    """Run the timing run to the end here (blocking; the wizard runs it with QProcess) and record the estimate."""
    cmd, log = runs.dry_run_setup(state, steps)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=runs.process_env(), timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise runs.RunError(f"the dry run failed: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    estimate = run_log.estimate_from_log(run_log.read_log(log), wall)
    runs.finish_dry_run(state, estimate)
    return estimate


@pytest.mark.slow
def test_dry_run_measures_seconds_per_step(tiny_data, user_dirs):
    state = runs.create_run("structure", "tiny-base", [tiny_data], runs.Hyperparameters(200, 1e-3, 2))
    estimate = _dry_run(state, steps=3, timeout=120)
    assert 0 < estimate.s_per_step < 30 and estimate.steps == 3 and estimate.startup_s > 0
    assert runs.load_run(state.path).s_per_step == estimate.s_per_step
    assert not (state.path / runs.DRYRUN_DIR).exists() and any((state.path / runs.CACHE_DIR).rglob("*.npy"))
    print(f"dry run: {estimate.text(200)}")
    runs.set_device(state, "cpu")
    assert runs.load_run(state.path).s_per_step is None


def test_state_round_trip_and_errors(tiny_data, user_dirs):
    with pytest.raises(runs.RunError, match="no model 'missing'"):
        runs.create_run("structure", "missing", [tiny_data], runs.Hyperparameters(5, 1e-3, 2))
    with pytest.raises(runs.RunError, match="device must be cpu or cuda"):
        runs.create_run("structure", "tiny-base", [tiny_data], runs.Hyperparameters(5, 1e-3, 2), "tpu")
    state = runs.create_run("report", "tiny-base", [tiny_data], runs.Hyperparameters(5, 1e-3, 2))
    again = runs.load_run(state.path)
    assert again == state and again.command[-1] == str(state.out_dir) and "-m" in again.command
    assert runs.list_runs()[0].id == state.id and runs.resumable_runs() == []
    state.status, state.pid = "running", 2**22 + 12345  # a pid that does not run
    state.save()
    assert runs.refresh(runs.load_run(state.path)).status == "interrupted"
    with pytest.raises(runs.RunError, match="has started"):
        runs.set_device(runs.load_run(state.path), "cpu")
    (state.path / runs.RUN_FILE).write_text("{broken")
    with pytest.raises(runs.RunError, match="cannot read run state"):
        runs.load_run(state.path)
    assert runs.list_runs() == []
    runs.discard(runs.create_run("report", "tiny-base", [tiny_data], runs.Hyperparameters(5, 1e-3, 2)))
    assert len(list((user_dirs / "runs").iterdir())) == 1
    assert runs.shell_line(runs.train_command(state)).startswith("ctrg train report")


@pytest.mark.slow
def test_two_processes_run_under_torchrun(tiny_data, user_dirs):
    """The several-GPU command (torch.distributed.run) with two CPU processes (gloo)."""
    state = runs.create_run("structure", "tiny-base", [tiny_data], runs.Hyperparameters(3, 1e-3, 2), "cpu", nproc=2)
    assert state.command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc_per_node=2" in state.command and state.command[5:7] == ["-m", "ctrg_desktop.cli"]
    proc = runs.start(state)
    assert proc.wait(180) == 0, state.console_path.read_text()[-3000:]
    runs.settle(state, proc.returncode)
    assert state.status == "finished" and [r["step"] for r in run_log.read_log(state.log_path)] == [1, 2, 3]
    assert json.loads((state.out_dir / "train_config.json").read_text())["run"]["world_size"] == 2


def test_the_wizard_path_keeps_torch_out_of_the_gui_process(tiny_data, user_dirs, tiny_zoo, tmp_path):
    """Listing the zoo, summarising data, checking a new model's name, creating a run and registering
    its model (``ctrg register`` in a child process) read and write files only: no torch import."""
    import subprocess
    import sys

    zoo = tmp_path / "zoo-out"
    code = ("import sys, shutil, subprocess; from ctrg_desktop.app.wizard import TrainingWizard; "
            "from ctrg_desktop.training import run_data, run_log, run_results, runs; "
            "from ctrg_desktop.model.catalogue import zoo_entries; "
            f"assert run_data.summarize_datasets([{str(tiny_data)!r}]).ok; "
            "assert [e.name for e in zoo_entries()] == ['tiny-base']; "
            "assert run_results.check_model_name('tiny-new') == 'tiny-new'; "
            f"state = runs.create_run('report', 'tiny-base', [{str(tiny_data)!r}], runs.Hyperparameters(5, 1e-3, 2)); "
            f"shutil.copytree({str(tiny_zoo / 'tiny-base')!r}, state.model_dir); "
            f"command = run_results.register_command(state, 'tiny-new', zoo={str(zoo)!r}); "
            "assert subprocess.run(command, capture_output=True).returncode == 0; "
            f"print(run_results.mark_registered(state, 'tiny-new', zoo={str(zoo)!r})); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(zoo / "tiny-new"), "False"]
    assert "parent model: tiny-base" in (zoo / "tiny-new" / "card.md").read_text()
    [state] = runs.list_runs()
    assert state.status == "registered" and state.registered == {"name": "tiny-new", "folder": str(zoo / "tiny-new")}
