"""``ctrg retrieval train|index|neighbours`` and ``ctrg similar`` on a tiny model and tiny phantoms."""

import json

import numpy as np
import pytest
import torch

from ctrg_desktop.cli import main


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("retrieval"), count=10, seed=7,
                            config=PhantomConfig((48, 64, 64), (6.0, 5.0, 5.0)), split=(0.6, 0.2, 0.2), workers=1)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from ctrg_desktop.model import ModelConfig, StructureReportModel

    torch.manual_seed(0)
    config = ModelConfig.tiny()
    config.observation.enabled = True
    folder = tmp_path_factory.mktemp("model") / "trained"
    StructureReportModel(config).eval().save_pretrained(folder)
    return folder


def _records(root, split):
    from ctrg_desktop.data.ctrate import CTRateDataset

    return CTRateDataset(root, split=split, missing="skip").records


def test_train_index_neighbours_and_similar(phantoms, tiny_model_dir, tmp_path, capsys, monkeypatch):
    from ctrg_desktop.model.zoo import load_model, register_model
    from ctrg_desktop.retrieval.build import model_id
    from ctrg_desktop.retrieval.index import ReferenceIndex

    monkeypatch.setenv("CTRG_DATA_DIR", str(tmp_path / "user"))
    cache = ["--cache-dir", str(tmp_path / "cache"), "--quiet"]
    weights = tmp_path / "retriever.npz"
    assert main(["retrieval", "train", "--model", str(tiny_model_dir), "--data", str(phantoms), "--out", str(weights),
                 "--steps", "5", "--hidden", "16", "--dim", "4", *cache]) == 0
    assert "nearest-neighbour Hamming" in capsys.readouterr().out and weights.is_file()
    assert list((tmp_path / "cache").glob("retrieval-*.npz"))  # the logits are cached
    assert main(["retrieval", "index", "--model", str(tiny_model_dir), "--data", str(phantoms),
                 "--retriever", str(weights), *cache]) == 0
    assert "reference index of 8 studies (6 train, 2 valid)" in capsys.readouterr().out

    model = load_model(tiny_model_dir)
    assert model.reference_index_path == tiny_model_dir / "reference_index.npz"
    index = ReferenceIndex.load(model.reference_index_path, model_id=model_id(model))
    assert set(index.sources) == {"train", "valid"} and index.thumbnails.shape == (8, 64, 64)
    assert all(t.std() > 0 for t in index.thumbnails)  # a slice of the study, not a blank
    assert not any(n.startswith("test") for n in index.names)
    # registering copies the index, and the float16 copy of the model is still the model it was built with
    registered = load_model(register_model(tiny_model_dir, "withindex", zoo=tmp_path / "zoo"))
    assert registered.reference_index_path is not None
    ReferenceIndex.load(registered.reference_index_path, model_id=model_id(registered))

    train = [r.volume_name for r in _records(phantoms, "train")]
    for metric in ("index", "probabilities", "random", "oracle"):
        out = tmp_path / f"refs-{metric}.json"
        assert main(["retrieval", "neighbours", "--index", str(model.reference_index_path), "--data", str(phantoms),
                     "--split", "train", "--out", str(out), "--metric", metric, "--k", "2", "--quiet"]) == 0
        refs = json.loads(out.read_text())
        assert sorted(refs) == sorted(train)
        for name, found in refs.items():
            assert len(found) == 2 and all(isinstance(f, str) and f in index.names for f in found)
            assert all(f.split("_")[:2] != name.split("_")[:2] for f in found)  # never the same patient
        if metric == "probabilities":  # nearest head probabilities, by hand
            row = {n: i for i, n in enumerate(index.names)}
            p = 1 / (1 + np.exp(-index.logits.astype(np.float64)))
            for name, found in refs.items():
                others = [j for j, n in enumerate(index.names) if n.split("_")[:2] != name.split("_")[:2]]
                d = ((p[others] - p[row[name]]) ** 2).sum(1)
                assert found == [index.names[others[j]] for j in np.argsort(d, kind="stable")[:2]]
    # test studies are not in the index: they need the model to be encoded
    out = tmp_path / "refs-test.json"
    assert main(["retrieval", "neighbours", "--index", str(model.reference_index_path), "--data", str(phantoms),
                 "--split", "test", "--out", str(out)]) == 2
    assert "pass --model" in capsys.readouterr().err
    assert main(["retrieval", "neighbours", "--index", str(model.reference_index_path), "--data", str(phantoms),
                 "--split", "test", "--out", str(out), "--model", str(tiny_model_dir), *cache]) == 0
    assert sorted(json.loads(out.read_text())) == sorted(r.volume_name for r in _records(phantoms, "test"))

    study = _records(phantoms, "test")[0].volume_path
    capsys.readouterr()
    assert main(["similar", str(study), "--model", str(tiny_model_dir), "--k", "3"]) == 0
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines() if line[:2] in ("1.", "2.", "3.")] == ["1.", "2.", "3."]
    assert printed.count("distance") == 3 and "agree:" in printed and "disagree:" in printed


def test_bad_input_gives_one_line_and_a_non_zero_exit(phantoms, tiny_model_dir, small_index, tmp_path, capsys):
    from ctrg_desktop.model import ModelConfig, StructureReportModel

    assert main(["retrieval", "index", "--model", str(tiny_model_dir), "--data", str(phantoms), "--splits", "test",
                 "--out", str(tmp_path / "x.npz"), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "never test" in err and len(err.splitlines()) == 1 and not (tmp_path / "x.npz").exists()
    # a model without an index
    torch.manual_seed(1)
    config = ModelConfig.tiny()
    config.observation.enabled = True
    other = tmp_path / "other"
    StructureReportModel(config).eval().save_pretrained(other)
    study = _records(phantoms, "test")[0].volume_path
    assert main(["similar", str(study), "--model", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no reference index" in err and len(err.splitlines()) == 1
    # another model's index is refused
    index = small_index.save(tmp_path / "another.npz")
    assert main(["similar", str(study), "--model", str(other), "--index", str(index)]) == 2
    assert "rebuild it" in capsys.readouterr().err
    assert main(["similar", str(tmp_path / "missing.nii.gz"), "--model", str(tiny_model_dir)]) == 2
    assert capsys.readouterr().err.startswith("ctrg: error:")
    assert main(["retrieval", "train", "--model", str(tiny_model_dir), "--data", str(tmp_path / "nothing"),
                 "--out", str(tmp_path / "w.npz"), "--steps", "0"]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err
