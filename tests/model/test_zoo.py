"""The model zoo: names resolve in the bundled and the user zoo, ``ctrg models``, safetensors only."""

import json
import shutil

import pytest
import torch

from ctrg_desktop.cli import main
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.model.zoo import (
    ModelZooError,
    PickleCheckpointError,
    known_names,
    list_models,
    load_model,
    resolve_device,
    resolve_model_folder,
)


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory, tokenizer):
    """A tiny model saved once (folder), with a card."""
    torch.manual_seed(0)
    model = StructureReportModel(ModelConfig.tiny(), tokenizer=tokenizer)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    model.save_pretrained(folder)
    (folder / "card.md").write_text("# Tiny test model\n\n- data: nothing, random weights; not for clinical use\n")
    return model, folder


@pytest.fixture
def zoos(tmp_path, monkeypatch, saved_tiny):
    """Bundled zoo with ``tiny-a``, user zoo with ``tiny-b``."""
    bundled, data = tmp_path / "zoo", tmp_path / "data"
    shutil.copytree(saved_tiny[1], bundled / "tiny-a")
    shutil.copytree(saved_tiny[1], data / "models" / "tiny-b")
    (bundled / "README.md").write_text("not a model")
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(bundled))
    monkeypatch.setenv("CTRG_DATA_DIR", str(data))
    return bundled, data / "models"


def test_names_resolve_in_both_zoos_and_paths(zoos, saved_tiny):
    bundled, user = zoos
    assert resolve_model_folder("tiny-a") == bundled / "tiny-a"
    assert resolve_model_folder("tiny-b") == user / "tiny-b"
    assert resolve_model_folder(saved_tiny[1]) == saved_tiny[1]
    assert resolve_model_folder(saved_tiny[1] / "config.json") == saved_tiny[1]
    assert known_names() == ["tiny-a", "tiny-b"]
    shutil.copytree(saved_tiny[1], user / "tiny-a")         # a clash: the bundled model wins
    assert resolve_model_folder("tiny-a") == bundled / "tiny-a"


def test_unknown_name_lists_the_known_ones(zoos, capsys):
    with pytest.raises(ModelZooError, match=r"no model 'nope'.*has: tiny-a, tiny-b") as err:
        resolve_model_folder("nope")
    assert isinstance(err.value, CtrgError) and "\n" not in str(err.value)
    assert main(["generate", "x.nii.gz", "--model", "nope", "--out", "r.json"]) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and line.startswith("ctrg: error: no model 'nope'") and "tiny-a" in line


def test_folders_without_config_or_weights(zoos, tmp_path):
    bundled, _ = zoos
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelZooError, match="no config.json"):
        resolve_model_folder(tmp_path / "empty")
    (bundled / "half").mkdir()                               # a zoo folder without config.json
    with pytest.raises(ModelZooError, match="half is not a model folder"):
        resolve_model_folder("half")
    (bundled / "tiny-a" / "model.safetensors").unlink()
    assert resolve_model_folder("tiny-a") == bundled / "tiny-a"   # evaluation's resolver needs the config only
    with pytest.raises(ModelZooError, match=r"no weights \(model.safetensors missing\)"):
        load_model("tiny-a")


def test_pickle_checkpoints_are_refused_unread(zoos, saved_tiny, tmp_path, monkeypatch):
    bundled, _ = zoos
    model = saved_tiny[0]

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(torch, "load", no_unpickling)
    folder = bundled / "tiny-a"
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "model.pt")
    with pytest.raises(PickleCheckpointError, match="model.pt is a pickle checkpoint.*safetensors"):
        load_model("tiny-a")
    with pytest.raises(PickleCheckpointError, match="pickle"):
        resolve_model_folder(folder / "model.pt")
    torch.save({"w": torch.zeros(2)}, folder / "model.safetensors")      # a renamed pickle
    with pytest.raises(PickleCheckpointError, match="renamed"):
        load_model("tiny-a")
    entry = {e.name: e for e in list_models()}["tiny-a"]
    assert entry.has_weights  # a file is there, and loading refuses it above
    (folder / "model.safetensors").unlink()
    assert "pickle checkpoint model.pt refused" in {e.name: e for e in list_models()}["tiny-a"].problem
    (tmp_path / "bin").mkdir()
    torch.save({}, tmp_path / "bin" / "pytorch_model.bin")
    with pytest.raises(PickleCheckpointError, match="pytorch_model.bin"):
        resolve_model_folder(tmp_path / "bin")


def test_list_models_and_the_cli(zoos, saved_tiny, capsys):
    entries = list_models()
    assert [e.name for e in entries] == ["tiny-a", "tiny-b"]
    a = entries[0]
    assert a.source == "bundled" and entries[1].source == "user" and a.has_weights and a.problem == ""
    assert a.title == "Tiny test model" and "not for clinical use" in a.summary
    assert a.parameters == sum(p.numel() for p in saved_tiny[0].parameters())
    assert a.input_shape == [16, 32, 32] and a.spacing == [6.0, 5.0, 5.0] and a.tokenizer == "minilm"
    assert main(["models"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["NAME", "SOURCE", "PARAMS", "WEIGHTS"]
    assert table[1].startswith("tiny-a") and "Tiny test model" in table[1] and "user" in table[2]
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == ["tiny-a", "tiny-b"] and listed[0]["parameters"] == a.parameters


def test_load_model_keeps_the_saved_config(tmp_path, tokenizer):
    """The decoder is built without MiniLM initialisation for speed, but the model keeps the saved config."""
    config = ModelConfig.tiny()
    config.decoder.init_from_text_encoder = True
    torch.manual_seed(3)
    original = StructureReportModel(config, tokenizer=tokenizer)
    original.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    assert not loaded.training and loaded.config.to_dict() == config.to_dict()
    assert loaded.decoder.config.init_from_text_encoder
    assert loaded.zoo_info.name == "m" and len(loaded.zoo_info.version) == 12
    ref = original.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in loaded.state_dict().items())


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu" and resolve_device(None).type == "cpu"
    with pytest.raises(CtrgError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_register_model_half_precision_round_trip(tmp_path):
    """A registered model (float16 weights) loads and encodes like the float32 original."""
    import torch

    from ctrg_desktop.model import ModelConfig, StructureReportModel
    from ctrg_desktop.model.zoo import load_model, register_model

    torch.manual_seed(0)
    model = StructureReportModel(ModelConfig.tiny()).eval()
    model.save_pretrained(tmp_path / "trained")
    folder = register_model(tmp_path / "trained", "tiny-half", card="# tiny\nnot for clinical use\n",
                            zoo=tmp_path / "zoo")
    assert (folder / "card.md").read_text().startswith("# tiny")
    assert (folder / "model.safetensors").stat().st_size < 0.6 * (tmp_path / "trained" / "model.safetensors").stat().st_size
    loaded = load_model(folder)
    x = torch.randn(1, 1, 16, 32, 32)
    with torch.no_grad():
        a, b = model.encode(x), loaded.encode(x)
    assert next(loaded.parameters()).dtype == torch.float32
    assert torch.allclose(a.structure_tokens, b.structure_tokens, atol=2e-2)


def test_cli_register_writes_the_card_and_lists_the_model(tmp_path, capsys, monkeypatch):
    """``ctrg register`` copies a trained folder with its card into a zoo that ``ctrg models`` lists."""
    import torch

    from ctrg_desktop.cli import main
    from ctrg_desktop.model import ModelConfig, StructureReportModel

    torch.manual_seed(0)
    StructureReportModel(ModelConfig.tiny()).save_pretrained(tmp_path / "trained")
    (tmp_path / "card.md").write_text("# tiny registered\nnot for clinical use\n")
    assert main(["register", str(tmp_path / "trained"), "--name", "tiny-cli", "--card", str(tmp_path / "card.md"),
                 "--zoo", str(tmp_path / "zoo")]) == 0
    assert (tmp_path / "zoo" / "tiny-cli" / "card.md").read_text().startswith("# tiny registered")
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(tmp_path / "zoo"))
    capsys.readouterr()
    assert main(["models"]) == 0
    assert "tiny registered" in capsys.readouterr().out
    assert main(["register", str(tmp_path / "missing"), "--name", "x", "--zoo", str(tmp_path / "zoo")]) == 2
