"""Drafting a report: ``ctrg generate`` output, preprocessing identical to training, device fallback."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ctrg_desktop import inference
from ctrg_desktop.cli import main
from ctrg_desktop.imaging.pipeline import prepare_volume
from ctrg_desktop.imaging.window import CTCLIP_WINDOW
from ctrg_desktop.inference import draft_report, load_draft, model_input
from ctrg_desktop.io.readers import read_study
from ctrg_desktop.io.sitk_bridge import write_volume
from ctrg_desktop.model import ModelConfig, StructureReportModel, load_tokenizer
from ctrg_desktop.model.zoo import load_model
from ctrg_desktop.training.dataset import StudyDataset

GEN = {"num_beams": 1, "max_length": 12}
FINDINGS = ("Trachea and both main bronchi are open. There is a 6 mm nodule in the right lung upper lobe. "
            "Heart size is normal. Degenerative changes in the thoracic spine.")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    torch.manual_seed(0)
    model = StructureReportModel(ModelConfig.tiny(), tokenizer=load_tokenizer("minilm"))
    folder = tmp_path_factory.mktemp("zoo") / "tiny-test"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_folder):
    return load_model(tiny_folder, device="cpu")


@pytest.fixture(scope="module")
def odd_study(tmp_path_factory, phantom_study):
    """The phantom relabelled to an anisotropic, off-grid spacing and origin: preprocessing must resample."""
    volume = phantom_study.volume.with_array(phantom_study.volume.array, spacing=(7.0, 4.5, 4.0),
                                             origin=(-120.0, -133.0, -90.5))
    path = tmp_path_factory.mktemp("odd") / "odd.nii.gz"
    write_volume(volume, path)
    return path


def _capture_inputs(model, monkeypatch) -> list:
    seen, encode = [], model.encode

    def spy(volume):
        seen.append(volume.detach().cpu().numpy().copy())
        return encode(volume)

    monkeypatch.setattr(model, "encode", spy)
    return seen


def test_cli_generate_writes_every_field(tiny_folder, phantom_nifti, tmp_path, monkeypatch, capsys):
    zoo = tmp_path / "zoo"
    shutil.copytree(tiny_folder, zoo / "tiny-test")
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(zoo))
    out = tmp_path / "out" / "report.json"
    assert main(["generate", str(phantom_nifti), "--model", "tiny-test", "--device", "cpu", "--out", str(out),
                 "--num-beams", "1", "--max-length", "12", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "after load on cpu" in printed and "wrote" in printed
    data = json.loads(out.read_text())
    assert {"format", "format_version", "created", "ctrg_version", "model", "study", "preprocessing", "generation",
            "device", "warnings", "report", "raw_text", "observations", "structures", "attention",
            "timings"} <= set(data)
    assert data["model"]["name"] == "tiny-test" and len(data["model"]["version"]) == 12
    assert data["preprocessing"]["spacing"] == [6.0, 5.0, 5.0] and data["preprocessing"]["grid_counts"] == [4, 4, 4]
    assert data["preprocessing"]["window"] == {"name": "paper", "lo": -1000.0, "hi": 200.0, "centre": -400.0,
                                               "scale": 600.0}
    assert data["generation"]["num_beams"] == 1 and data["generation"]["max_length"] == 12
    # an untrained model writes no full sentence in 12 tokens: the clean-up drops it and says so
    assert data["device"] == "cpu" and all(w.startswith("dropped the unfinished") for w in data["warnings"])
    assert data["observations"] == [] and data["raw_text"]                 # no observation heads
    assert set(data["timings"]) == {"read", "load", "preprocess", "encode", "decode", "total"}
    assert all(v >= 0 for v in data["timings"].values())
    assert data["timings"]["total"] >= data["timings"]["encode"] + data["timings"]["decode"]

    attention = np.load(out.parent / data["attention"]["file"], allow_pickle=False)
    assert data["attention"]["file"] == "report.attention.npy"
    assert attention.shape == (10, 64) == tuple(data["attention"]["shape"]) and attention.dtype == np.float32
    assert np.allclose(attention.sum(axis=1), 1.0, atol=1e-4)                 # the paper observer's softmax

    study = read_study(phantom_nifti)
    assert len(data["structures"]) == 10
    for n, s in enumerate(data["structures"]):
        assert {"index", "name", "colour", "sentences", "text", "mentioned", "top_patches"} == set(s)
        assert s["index"] == n and s["colour"].startswith("#") and s["text"]
        patches = s["top_patches"]
        assert [p["rank"] for p in patches] == [1, 2, 3, 4]
        scores = [p["score"] for p in patches]
        assert scores == sorted(scores, reverse=True)
        for p in patches:
            assert p["score"] == pytest.approx(float(attention[n, p["index"]]))
            kji = np.array(p["centre_voxel"])
            assert p["inside_study"] and np.all(kji >= 0) and np.all(kji <= np.array(study.shape) - 1)
            # the centre's world point lies in its own study box, and voxel/world agree
            lo, hi = np.array(p["box_voxels"])
            back = study.world_to_voxel(np.array(p["centre_world"]))
            assert np.all(back >= lo - 1e-6) and np.all(back <= hi + 1e-6)
            assert np.allclose(study.voxel_to_world(kji), p["centre_world"], atol=1e-2)
            assert np.allclose(hi - lo, np.array([4, 8, 8]) * np.array([6.0, 5.0, 5.0]) / study.spacing, atol=1e-3)


def test_input_is_bit_identical_to_the_training_dataset(tiny, odd_study, monkeypatch):
    record = SimpleNamespace(volume_path=odd_study, volume_name="odd")
    trained_on = StudyDataset([], tiny.config).volume_array(record)
    volume = read_study(odd_study)
    assert np.array_equal(model_input(volume, tiny.config).input, trained_on)
    seen = _capture_inputs(tiny, monkeypatch)
    draft = draft_report(volume, tiny, device="cpu", **GEN)
    assert len(seen) == 1 and seen[0].dtype == np.float32
    assert seen[0].shape == (1, 1, 16, 32, 32) and np.array_equal(seen[0][0, 0], trained_on)
    assert draft.preprocessing["model_grid"]["spacing"] == [6.0, 5.0, 5.0]


def test_the_saved_config_decides_the_preprocessing(tiny_folder, odd_study, tmp_path, monkeypatch):
    """Change spacing and HU window in a saved config.json: the reloaded model is fed exactly that."""
    folder = tmp_path / "respaced"
    shutil.copytree(tiny_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["encoder"]["spacing"] = [8.0, 3.5, 4.5]
    config["encoder"]["window"] = "ctclip"
    (folder / "config.json").write_text(json.dumps(config))
    model = load_model(folder, device="cpu")
    volume = read_study(odd_study)
    seen = _capture_inputs(model, monkeypatch)
    draft = draft_report(volume, model, device="cpu", **GEN)
    assert draft.preprocessing["spacing"] == [8.0, 3.5, 4.5] and draft.preprocessing["window"]["name"] == "ctclip"
    assert draft.preprocessing["model_grid"]["spacing"] == [8.0, 3.5, 4.5]
    expected = prepare_volume(volume, (8.0, 3.5, 4.5), (16, 32, 32), CTCLIP_WINDOW).input
    assert np.array_equal(seen[0][0, 0], expected)
    default = prepare_volume(volume, (6.0, 5.0, 5.0), (16, 32, 32)).input
    assert not np.array_equal(expected, default)
    record = SimpleNamespace(volume_path=odd_study, volume_name="odd")
    assert np.array_equal(StudyDataset([], model.config).volume_array(record), expected)
    # patch boxes follow the model's spacing: a patch spans 4x8x8 voxels of 8/3.5/4.5 mm
    p = draft.structures[0].top_patches[0]
    lo, hi = np.array(p["box_voxels"])
    assert np.allclose((hi - lo) * np.array(volume.spacing), [32.0, 28.0, 36.0], atol=0.01)


def test_sentences_are_routed_to_structures(tiny, phantom_study, monkeypatch):
    monkeypatch.setattr(tiny.decoder, "generate", lambda visual, **kw: [FINDINGS])
    draft = draft_report(phantom_study.volume, tiny, device="cpu", **GEN)
    assert draft.report == FINDINGS
    lung = draft.structure("lung")
    assert lung.mentioned and lung.sentences == ["There is a 6 mm nodule in the right lung upper lobe."]
    assert draft.structure("mediastinum and heart").sentences == ["Heart size is normal."]
    assert draft.structure("bone").sentences == ["Degenerative changes in the thoracic spine."]
    thyroid = draft.structure("thyroid")
    assert not thyroid.mentioned and thyroid.sentences == [] and thyroid.text == "No abnormality found in thyroid."
    with pytest.raises(ValueError, match="structures but the model observes 10"):
        draft_report(phantom_study.volume, tiny, device="cpu", structures="brain_ct", **GEN)


def test_load_draft_round_trip(tiny, phantom_study, tmp_path):
    draft = draft_report(phantom_study.volume, tiny, device="cpu", **GEN)
    draft.add_timing("read", 0.5)
    assert next(iter(draft.timings)) == "read" and list(draft.timings)[-1] == "total"
    path = draft.save(tmp_path / "d.json")
    back = load_draft(path)
    assert back.to_json() == draft.to_json() == json.loads(path.read_text())
    assert np.array_equal(back.attention, draft.attention) and back.attention_grid(2).shape == (4, 4, 4)
    (tmp_path / "d.attention.npy").unlink()
    assert load_draft(path).attention is None and "not found" in load_draft(path).warnings[-1]
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(Exception, match="not a ctrg draft report"):
        load_draft(tmp_path / "bad.json")


def test_cuda_out_of_memory_falls_back_to_cpu(tiny, phantom_study, monkeypatch):
    real_run = inference._run_model

    def run(model, prepared, device, generation, progress, **kwargs):
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_run(model, prepared, device, generation, progress, **kwargs)

    monkeypatch.setattr(inference, "resolve_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(inference, "_run_model", run)
    stages = []
    with pytest.warns(RuntimeWarning, match="out of memory"):
        draft = draft_report(phantom_study.volume, tiny, device="auto", progress=stages.append, **GEN)
    assert draft.device == "cpu" and "generated on the CPU" in draft.warnings[0]
    assert stages[:2] == ["preprocess", "encode"] and not tiny.training


def test_draft_from_a_model_folder_times_the_load(tiny_folder, phantom_study, monkeypatch):
    seen = []
    monkeypatch.setattr(inference, "_cpu_threads", _spy_threads(seen))
    draft = draft_report(phantom_study.volume, tiny_folder, device="cpu", decode_threads=1, **GEN)
    assert draft.timings["load"] > 0 and draft.model["name"] == "tiny-test"
    assert seen == [1]


def test_decode_threads_are_restored():
    before = torch.get_num_threads()
    with inference._cpu_threads(torch.device("cpu"), before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def _spy_threads(seen):
    real = inference._cpu_threads

    def spy(device, threads):
        seen.append(threads)
        return real(device, threads)
    return spy


@pytest.fixture(scope="module")
def observing(tmp_path_factory):
    """The tiny model with observation heads, saved and loaded as a zoo model would be."""
    from ctrg_desktop.model.config import ObservationConfig

    torch.manual_seed(0)
    config = ModelConfig.tiny()
    config.observation = ObservationConfig(enabled=True, hidden=16)
    folder = tmp_path_factory.mktemp("zoo") / "tiny-observing"
    StructureReportModel(config, tokenizer=load_tokenizer("minilm")).save_pretrained(folder)
    return load_model(folder, device="cpu")


def test_observations_are_drafted_saved_and_read_back(observing, phantom_study, tmp_path):
    from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES

    draft = draft_report(phantom_study.volume, observing, device="cpu", **GEN)
    assert [o["label"] for o in draft.observations] == list(CT_RATE_LABELS)
    assert all(set(o) == {"label", "probability", "structure"} for o in draft.observations)
    assert all(o["structure"] == LABEL_STRUCTURES[o["label"]] and 0.0 <= o["probability"] <= 1.0
               for o in draft.observations)
    path = draft.save(tmp_path / "obs.json")
    assert json.loads(path.read_text())["observations"] == draft.observations
    back = load_draft(path)
    assert back.observations == draft.observations and back.raw_text == draft.raw_text
    # a draft written before observations existed still loads, with none
    data = json.loads(path.read_text())
    del data["observations"], data["raw_text"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = load_draft(tmp_path / "old.json", load_attention=False)
    assert old.observations == [] and old.raw_text == old.report
    data["observations"] = [{"label": "Emphysema"}]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="malformed draft report.*observations"):
        load_draft(tmp_path / "bad.json")


CONTRADICTING = ("trachea and both main bronchi are open . no nodular lesion was observed in the lung parenchyma . "
                 "a 6 mm nodule is seen in the right lung upper lobe . heart size is normal . the aorta is")


def test_the_draft_text_is_cleaned(tiny, phantom_study, monkeypatch):
    monkeypatch.setattr(tiny.decoder, "generate", lambda visual, **kw: [CONTRADICTING])
    draft = draft_report(phantom_study.volume, tiny, device="cpu", **GEN)
    assert draft.raw_text == CONTRADICTING
    assert draft.report == ("Trachea and both main bronchi are open. A 6 mm nodule is seen in the right lung upper "
                            "lobe. Heart size is normal.")
    assert draft.structure("lung").sentences == ["A 6 mm nodule is seen in the right lung upper lobe."]
    assert draft.warnings[0].startswith("dropped the unfinished last sentence 'The aorta is'")
    assert "on Lung nodule; no observation for it: the positive statement is kept" in draft.warnings[1]


def test_an_observation_settles_a_contradiction(observing, phantom_study, monkeypatch):
    from ctrg_desktop.data.labels import CT_RATE_LABELS

    monkeypatch.setattr(observing.decoder, "generate", lambda visual, **kw: [CONTRADICTING])
    encode = observing.encode

    def low_nodule(volume):                      # the heads say: no nodule (p = 0.05)
        out = encode(volume)
        out.observation_logits = torch.zeros_like(out.observation_logits)
        out.observation_logits[:, CT_RATE_LABELS.index("Lung nodule")] = -2.944
        return out

    monkeypatch.setattr(observing, "encode", low_nodule)
    draft = draft_report(phantom_study.volume, observing, device="cpu", **GEN)
    assert draft.structure("lung").sentences == ["No nodular lesion was observed in the lung parenchyma."]
    assert ("dropped 'A 6 mm nodule is seen in the right lung upper lobe.' (contradicts 'No nodular lesion was "
            "observed in the lung parenchyma.' on Lung nodule; observation p=0.05)") in draft.warnings


def test_the_default_budget_fits_a_whole_report(tiny):
    from ctrg_desktop.inference import REPORT_TOKEN_BUDGET, generation_budget

    assert generation_budget(ModelConfig.demo()) == REPORT_TOKEN_BUDGET == 384      # the demo config says 256
    assert generation_budget(ModelConfig.paper()) == 384                           # the paper's 380, rounded up
    assert generation_budget(tiny.config) == REPORT_TOKEN_BUDGET                    # within 512 positions
