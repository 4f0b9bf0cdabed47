"""``ctrg train report`` with the LLM decoder: decoder switch from a stage-1 model, CLI, resume, JSONL log,
adapter-only model folder and card, loading it back; the shipped demo config (SmolLM2, slow)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from ctrg_desktop.cli import main as ctrg
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.model.llm_decoder import resolve_base
from ctrg_desktop.model.zoo import load_model
from ctrg_desktop.training.config import TrainConfig
from ctrg_desktop.training.loop import resolve_model_config, train
from tests.model.test_llm_decoder import write_tiny_llama

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def parent(tmp_path_factory, text_models):
    """A tiny model with a BERT decoder, standing for a stage-1 result."""
    folder = tmp_path_factory.mktemp("parent") / "model"
    torch.manual_seed(0)
    StructureReportModel(ModelConfig.tiny(), tokenizer=text_models["tokenizer"]).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llm_settings(tiny_base, parent, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {"stage": "report", "init_from": str(parent), "steps": 6, "batch_size": 2, "lr": 1e-2,
            "log_every": 1, "checkpoint_every": 3, "keep_checkpoints": 2, "seed": 0, "device": "cpu",
            "cache_dir": str(cache),
            "decoder": {"kind": "llm", "max_length": 24, "llm": {"base": str(tiny_base), "lora_r": 4,
                                                                "projector_hidden": 16}}}


@pytest.fixture(scope="module")
def reference(llm_settings, tiny_data, tmp_path_factory):
    """One uninterrupted 6-step LLM report run."""
    out = tmp_path_factory.mktemp("llm-run")
    return train(TrainConfig.from_dict(llm_settings), tiny_data, out, stream=io.StringIO())


def test_llm_run_trains_adapter_only_and_writes_a_loadable_model(reference, parent, tiny_base):
    losses = [p["loss"] for p in reference.losses]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
    out = reference.out_dir
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 7)) and {"loss", "lr", "samples_per_s"} <= log[0].keys()
    with safe_open(str(reference.model_dir / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    decoder = [k for k in keys if k.startswith("decoder.")]
    assert decoder and all(".lora_" in k or k.startswith("decoder.projector.") for k in decoder)
    sha = resolve_base(str(tiny_base)).sha256()
    card = (reference.model_dir / "card.md").read_text()
    assert f"SHA-256 {sha}" in card and str(tiny_base) in card and "LoRA r=4" in card
    saved = json.loads((reference.model_dir / "config.json").read_text())
    assert saved["decoder"]["kind"] == "llm" and saved["decoder"]["llm"]["base_sha256"] == sha
    before = StructureReportModel.from_pretrained(parent)
    model = load_model(reference.model_dir)
    for part in ("encoder", "observer", "image_proj"):  # taken from the parent, frozen
        old, new = getattr(before, part).state_dict(), getattr(model, part).state_dict()
        assert all(torch.equal(old[k], new[k]) for k in old), part
    assert all(".lora_" in n or n.startswith("projector.") for n, p in reference.model.decoder.named_parameters()
               if p.requires_grad)
    texts = model.generate(torch.zeros(1, 1, 16, 32, 32), num_beams=1, min_length=2, max_length=3)
    assert len(texts) == 1


def test_cli_resume_reproduces_the_uninterrupted_losses(reference, llm_settings, tiny_data, tmp_path, capsys):
    config = tmp_path / "llm.json"
    config.write_text(json.dumps(llm_settings))
    out = tmp_path / "out"
    first = train(TrainConfig.from_dict(llm_settings), tiny_data, out, stop_after=4, stream=io.StringIO())
    assert first.step == 4 and first.model_dir is None  # "crashed" after step 4; last checkpoint: 3
    assert ctrg(["train", "report", "--config", str(config), "--data", str(tiny_data), "--out", str(out),
                 "--resume"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "model")
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 7))
    assert [r["loss"] for r in log[3:]] == [p["loss"] for p in reference.losses[3:]]


def test_decoder_settings_errors(llm_settings, tiny_data, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"decoder has unknown field\(s\) \['lora'\]"):
        TrainConfig.from_dict({**llm_settings, "decoder": {"kind": "llm", "lora": 4}})
    with pytest.raises(ValueError, match=r"decoder.llm has unknown field\(s\) \['rank'\]"):
        TrainConfig.from_dict({**llm_settings, "decoder": {"kind": "llm", "llm": {"rank": 4}}})
    missing = {**llm_settings, "decoder": {"kind": "llm", "llm": {"base": str(tmp_path / "no-llm")}}}
    with pytest.raises(CtrgError, match="not found"):
        resolve_model_config(TrainConfig.from_dict(missing))
    config = tmp_path / "missing.json"
    config.write_text(json.dumps(missing))
    assert ctrg(["train", "report", "--config", str(config), "--data", str(tiny_data), "--out",
                 str(tmp_path / "o")]) == 2
    assert "base model" in capsys.readouterr().err
    with pytest.raises(CtrgError, match="neither a folder nor a model-zoo name"):
        resolve_model_config(TrainConfig.from_dict({**llm_settings, "init_from": "no-such-model"}))


def test_demo_llm_config_starts_from_the_demo_zoo_model():
    cfg = TrainConfig.load(CONFIGS / "demo_report_llm.json")
    assert cfg.stage == "report" and cfg.freeze_visual and cfg.learning_rate == 1e-4
    config, parent = resolve_model_config(cfg)
    assert parent is not None and parent.name == "demo" and (parent / "model.safetensors").is_file()
    bundled = ModelConfig.load(CONFIGS.parent / "model" / "demo_v3.json")  # the demo model's own config
    assert config.encoder == bundled.encoder and config.observer == bundled.observer
    llm = config.decoder.llm
    assert config.decoder.kind == "llm" and llm.base == "smollm2" and (llm.lora_r, llm.lora_alpha) == (32, 16)
    assert llm.base_sha256 == resolve_base("smollm2").sha256()


@pytest.mark.slow
def test_ctrg_train_with_the_demo_llm_config(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert ctrg(["train", "report", "--config", str(CONFIGS / "demo_report_llm.json"), "--data", str(tiny_data),
                 "--out", str(out), "--steps", "1", "--device", "cpu"]) == 0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 1 and all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    assert (out / "model" / "model.safetensors").stat().st_size < 40 * 2**20  # no 135M-parameter base inside
    assert "smollm2" in (out / "model" / "card.md").read_text()
    model = load_model(out / "model")
    assert model.config.decoder.kind == "llm" and model.decoder.trainable_parameters() > 0
