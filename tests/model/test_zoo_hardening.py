"""Hardening of the model zoo and of loading a model: names that cannot escape or empty a folder,
re-registration that a concurrent reader never sees half done, and damaged weights or configs as
one ``ctrg: error:`` line (exit 2) instead of a traceback."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ctrg_desktop.cli import main
from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.model.zoo import ModelZooError, load_model, register_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model folder as ``ctrg train`` leaves it (config.json, model.safetensors, card.md)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("trained") / "model"
    StructureReportModel(ModelConfig.tiny()).save_pretrained(folder)
    (folder / "card.md").write_text("# tiny\n")
    return folder


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    """A small NIfTI study for ``ctrg generate`` (the model fails to load before it is drafted)."""
    import SimpleITK as sitk

    path = tmp_path_factory.mktemp("study") / "study.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((8, 16, 16), -1000, np.int16)), str(path))
    return path


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_error_line(capsys, needle: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrg: error: "), err
    assert "Traceback" not in err and needle in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------- names

@pytest.mark.parametrize("name", ["..", ".", "", "../escaped", "a/b", "/abs", ".hidden", "-x", "x" * 65, "a\\b"])
def test_register_refuses_names_that_leave_or_empty_the_zoo(tmp_path, trained, capsys, monkeypatch, name):
    data = tmp_path / "data"
    zoo = data / "models"
    (data / "corrections").mkdir(parents=True)
    (data / "corrections" / "record.json").write_text("{}")
    shutil.copytree(trained, zoo / "kept")
    monkeypatch.setenv("CTRG_DATA_DIR", str(data))
    before = _tree(tmp_path)
    assert main(["register", str(trained), f"--name={name}"]) == 2
    _one_error_line(capsys, "a model name is")
    assert _tree(tmp_path) == before  # nothing written, nothing deleted (corrections included)
    with pytest.raises(ModelZooError, match="a model name is"):
        register_model(trained, name, zoo=zoo)
    assert _tree(tmp_path) == before


def test_register_does_not_replace_a_folder_that_is_not_a_model(tmp_path, trained):
    zoo = tmp_path / "zoo"
    (zoo / "notes").mkdir(parents=True)
    (zoo / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(ModelZooError, match="not a model folder"):
        register_model(trained, "notes", zoo=zoo)
    assert (zoo / "notes" / "mine.txt").read_text() == "keep me"


def test_reregistering_replaces_the_entry_and_leaves_no_hidden_folders(tmp_path, trained):
    zoo = tmp_path / "zoo"
    first = register_model(trained, "tiny", card="# one\n", zoo=zoo)
    second = register_model(trained, "tiny", card="# two\n", zoo=zoo)
    assert first == second == zoo / "tiny" and (second / "card.md").read_text() == "# two\n"
    assert [p.name for p in zoo.iterdir() if p.is_dir() and not p.name.startswith(".")] == ["tiny"]
    assert len([p for p in zoo.iterdir() if p.is_dir()]) == 2  # the entry + its one current version
    assert load_model(second).zoo_info.folder == str(second)


def test_reregistering_over_a_plain_folder(tmp_path, trained):
    """A folder registered by an older version (a plain directory, no link) is replaced too."""
    zoo = tmp_path / "zoo"
    shutil.copytree(trained, zoo / "tiny")
    register_model(trained, "tiny", card="# new\n", zoo=zoo)
    assert (zoo / "tiny" / "card.md").read_text() == "# new\n" and (zoo / "tiny").is_symlink()
    assert [p.name for p in zoo.iterdir() if not p.name.startswith(".")] == ["tiny"]
    assert len([p for p in zoo.iterdir() if p.name.startswith(".tiny.")]) == 1  # the old folder is gone


# --------------------------------------------------------------------------- concurrent writers

def _register_loop(source, zoo, cards, done):
    for card in cards:
        register_model(source, "shared", card=card, zoo=zoo, half=False)
    done.put("ok")


def test_concurrent_registration_never_shows_a_missing_or_partial_model(tmp_path, trained):
    """Two processes re-register one name over and over while this one polls it: the model is
    always there and complete (config, weights and card of one registration)."""
    zoo = tmp_path / "zoo"
    register_model(trained, "shared", card="# start\n", zoo=zoo, half=False)
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    writers = [ctx.Process(target=_register_loop, args=(trained, zoo, [f"# w{w} {i}\n" for i in range(6)], done))
               for w in range(2)]
    for w in writers:
        w.start()
    polls, problems = 0, []
    deadline = time.monotonic() + 120
    while any(w.is_alive() for w in writers) and time.monotonic() < deadline:
        entry = zoo / "shared"
        try:
            version = entry.resolve(strict=True)
            names = {p.name for p in version.iterdir()}
            card = (version / "card.md").read_text()
        except FileNotFoundError:
            # the version this poll resolved may be deleted after a newer one replaced it: then
            # the entry itself must name another, complete version
            if entry.resolve() == version:
                problems.append("entry missing")
            continue
        polls += 1
        if not {"config.json", "model.safetensors", "card.md"} <= names or not card.startswith("# "):
            problems.append(f"incomplete: {sorted(names)} {card!r}")
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0, 0]
    assert problems == [] and polls > 10
    assert (zoo / "shared" / "card.md").read_text().startswith("# w")
    assert sorted(p.name for p in zoo.iterdir() if p.is_dir() and not p.name.startswith(".")) == ["shared"]
    assert len([p for p in zoo.iterdir() if p.name.startswith(".shared.")]) == 1  # the current version only
    load_model(zoo / "shared")


# --------------------------------------------------------------------------- damaged models

def _weights_bytes(folder):
    data = (folder / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return data, n, json.loads(data[8:8 + n])


def _truncated(folder):
    data, _, _ = _weights_bytes(folder)
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _header_only(folder):
    data, n, _ = _weights_bytes(folder)
    (folder / "model.safetensors").write_bytes(data[: 8 + n])


def _bad_header_json(folder):
    data, n, _ = _weights_bytes(folder)
    (folder / "model.safetensors").write_bytes(data[:8] + b"{" + b"x" * (n - 1) + data[8 + n:])


def _huge_tensor(folder):
    data, n, header = _weights_bytes(folder)
    key = next(k for k in header if k != "__metadata__")
    header[key] = {**header[key], "shape": [1 << 40, 1 << 20]}
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def _config(change):
    def apply(folder):
        config = json.loads((folder / "config.json").read_text())
        change(config)
        (folder / "config.json").write_text(json.dumps(config))
    return apply


def _deep_config(folder):
    (folder / "config.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)


DAMAGE = {
    "truncated": (_truncated, "model.safetensors is damaged"),
    "header only": (_header_only, "model.safetensors is damaged"),
    "bad header JSON": (_bad_header_json, "model.safetensors is damaged"),
    "huge tensor": (_huge_tensor, "model.safetensors is damaged"),
    "dim as string": (_config(lambda c: c["encoder"].__setitem__("dim", "32")), "'dim' must be a whole number"),
    "dim as float": (_config(lambda c: c["encoder"].__setitem__("dim", 32.5)), "'dim' must be a whole number"),
    "dim null": (_config(lambda c: c["observer"].__setitem__("dim", None)), "'dim' must be a whole number"),
    "dim negative": (_config(lambda c: c["encoder"].__setitem__("dim", -32)), "'dim' must be a whole number"),
    "dim huge": (_config(lambda c: c["encoder"].__setitem__("dim", 10**9)), "'dim' must be a whole number"),
    "layers huge": (_config(lambda c: c["decoder"].__setitem__("layers", 10**6)), "'layers' must be a whole number"),
    "shape as string": (_config(lambda c: c["encoder"].__setitem__("input_shape", "16")), "'input_shape' must be"),
    "big dims in range": (_config(lambda c: c["decoder"].update(hidden=60000, intermediate=60000)),
                          "does not fit its config.json"),
    "more layers than weights": (_config(lambda c: c["decoder"].__setitem__("layers", 400)),
                                 "does not fit its config.json"),
    "100k-deep config": (_deep_config, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_model_is_one_error_line(case, tmp_path, trained, study_file, capsys):
    damage, needle = DAMAGE[case]
    folder = tmp_path / "damaged"
    shutil.copytree(trained, folder)
    damage(folder)
    started = time.perf_counter()
    code = main(["generate", str(study_file), "--model", str(folder), "--device", "cpu",
                 "--out", str(tmp_path / "report.json")])
    assert code == 2
    line = _one_error_line(capsys, needle)
    assert time.perf_counter() - started < 60  # refused before building a huge model
    if "safetensors" in needle:
        assert str(folder / "model.safetensors") in line  # names the file


def test_loading_checks_the_weights_without_the_compiler_and_loads_every_tensor(trained):
    """The header check builds no meta model (PyTorch's meta kernels import torch._dynamo and sympy,
    about 1 s a load); the model, built without random initialisation, holds the file's values."""
    code = ("import sys, torch; from ctrg_desktop.model.zoo import load_model; "
            "from ctrg_desktop.model.checkpoint import load_weights_file; m = load_model(sys.argv[1]); "
            "state = m.state_dict(); file = load_weights_file(sys.argv[1] + '/model.safetensors'); "
            "assert all(torch.equal(state[k], v) for k, v in file.items()), 'not loaded'; "
            "ptrs = {state[k].data_ptr() for k in file}; "
            "assert all(v.data_ptr() in ptrs for v in state.values()), 'a tensor not from the file'; "
            "print(sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(trained)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_drafting_worker_reports_the_same_line(tmp_path, trained):
    """The app's drafting worker (model warm-up and drafts) answers with the CLI's message."""
    from ctrg_desktop.workers.drafting import serve

    folder = tmp_path / "damaged"
    shutil.copytree(trained, folder)
    _truncated(folder)

    class Pipe:
        def __init__(self, requests):
            self.requests, self.sent = list(requests), []

        def send(self, message):
            self.sent.append(message)

        def recv(self):
            if not self.requests:
                raise EOFError
            return self.requests.pop(0)

    pipe = Pipe([("warm", str(folder)), ("quit", None)])
    serve(pipe, None)  # cancel: unused by the drafting worker (a draft is stopped by killing it)
    assert pipe.sent[0][0] == "ready"
    kind, message = pipe.sent[-1]
    assert kind == "error" and message.startswith(f"{folder / 'model.safetensors'} is damaged")
    assert "\n" not in message and "SafetensorError" not in message
