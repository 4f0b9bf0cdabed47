"""The report model with reference fusion: exact equivalence without references, the loss,
generation, checkpoints, and starting a fused model from one without fusion."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.model.config import FusionConfig

REPORTS = ["Right pleural effusion. The heart is normal.", "No lung nodule. Mild emphysema."]
REFERENCES = ["Bilateral pleural effusion. No nodule.", "Emphysema in both upper lobes. Atelectasis."]
GEN = {"num_beams": 1, "max_length": 12}
DEMO = Path(__file__).resolve().parents[2] / "model_zoo" / "demo"


def _fused_config(**changes):
    return dataclasses.replace(ModelConfig.tiny(), fusion=FusionConfig(enabled=True, **changes))


@pytest.fixture
def pair(make_model):
    """(model without fusion, the same weights with a fresh fusion module)."""
    plain = make_model().eval()
    fused = make_model(_fused_config()).eval()
    missing, unexpected = fused.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("fusion.") for k in missing)
    return plain, fused


def test_without_references_outputs_are_todays(pair, volumes):
    plain, fused = pair
    batch = {"volume": volumes, "reports": REPORTS}
    with torch.no_grad():
        base = plain.report_loss(batch)
        assert set(base) == {"loss"}
        for refs in (None, ["", ""]):
            out = fused.report_loss({**batch, **({} if refs is None else {"reference_reports": refs})})
            assert torch.equal(out["loss"], base["loss"]) and out["consistency"].item() == 0.0
        # a model without fusion ignores references altogether
        assert torch.equal(plain.report_loss({**batch, "reference_reports": REFERENCES})["loss"], base["loss"])
    drafts = plain.generate(volumes, **GEN)
    assert fused.generate(volumes, **GEN) == drafts
    assert fused.generate(volumes, reference_reports=["", ""], **GEN) == drafts
    # zero-initialised output: even with references the decoder sees today's tokens
    assert fused.generate(volumes, reference_reports=REFERENCES, **GEN) == drafts


def test_report_loss_with_references_adds_weighted_consistency(pair, volumes):
    plain, fused = pair
    batch = {"volume": volumes, "reports": REPORTS}
    base = plain.report_loss(batch)["loss"]
    out = fused.report_loss({**batch, "reference_reports": [REFERENCES[0], ""]})
    assert 0 < out["consistency"].item() < 1
    torch.testing.assert_close(out["loss"], base + 0.5 * out["consistency"])
    fused.train()
    fused.freeze_for_stage2()
    out = fused.report_loss({**batch, "reference_reports": REFERENCES})
    out["loss"].backward()
    assert fused.fusion.out.weight.grad.abs().sum() > 0
    assert all(p.requires_grad for p in fused.fusion.parameters())
    assert not any(p.requires_grad for p in fused.encoder.parameters())
    with pytest.raises(ValueError, match="list of 2 strings"):
        fused.report_loss({**batch, "reference_reports": REFERENCES[:1]})


def test_trained_fusion_changes_drafts_only_where_a_reference_is_given(pair, volumes):
    _, fused = pair
    torch.manual_seed(5)
    torch.nn.init.normal_(fused.fusion.out.weight, std=2.0)
    visual = fused.encode(volumes).decoder_tokens()
    prompts = fused.reference_prompts([REFERENCES[0], ""])
    tokens = fused.fusion(visual, prompts, with_consistency=False).tokens
    assert not torch.allclose(tokens[0], visual[0]) and torch.equal(tokens[1], visual[1])


def test_checkpoint_round_trip_and_init_from_a_model_without_fusion(pair, tmp_path, tokenizer):
    plain, fused = pair
    torch.nn.init.normal_(fused.fusion.out.weight)
    fused.save_pretrained(tmp_path / "fused")
    saved = json.loads((tmp_path / "fused" / "config.json").read_text())
    assert saved["fusion"]["enabled"] is True
    again = StructureReportModel.from_pretrained(tmp_path / "fused", tokenizer=tokenizer)
    for name, tensor in fused.fusion.state_dict().items():
        assert torch.equal(again.fusion.state_dict()[name], tensor), name

    plain.save_pretrained(tmp_path / "plain")
    assert "fusion" not in json.loads((tmp_path / "plain" / "config.json").read_text())
    again.load_weights(tmp_path / "plain")  # the one case allowed: fusion starts fresh
    assert again.fusion.out.weight.abs().sum() == 0
    state = plain.state_dict()
    for name, tensor in again.state_dict().items():
        if not name.startswith("fusion."):
            assert torch.equal(tensor, state[name]), name
    with pytest.raises(ValueError, match="fusion"):
        plain.load_weights(tmp_path / "fused")  # a fused checkpoint does not fit a plain model
    softmax = StructureReportModel(_fused_config(attention="softmax"), tokenizer=tokenizer)
    with pytest.raises(ValueError, match="fusion.attention"):
        softmax.load_weights(tmp_path / "fused")


def test_fusion_config_validation_and_old_configs():
    assert FusionConfig() == FusionConfig(enabled=False, attention="sinkhorn", epsilon=0.05, iterations=100,
                                          consistency_weight=0.5, global_prompts=True, local_prompts=True,
                                          max_sentences=32)
    data = ModelConfig.tiny().to_dict()
    assert "fusion" not in data and ModelConfig.from_dict(data).fusion == FusionConfig()
    fused = _fused_config(attention="softmax").to_dict()
    assert ModelConfig.from_dict(fused).fusion.attention == "softmax"
    for bad, match in (({"attention": "dot"}, "attention"), ({"epsilon": 0.0}, "epsilon"),
                       ({"iterations": 0}, "iterations"), ({"consistency_weight": -1.0}, "consistency_weight"),
                       ({"global_prompts": False, "local_prompts": False}, "global_prompts"),
                       ({"max_sentences": "32"}, "max_sentences"), ({"sinkhorn": True}, "unknown")):
        with pytest.raises(ValueError, match=match):
            ModelConfig.from_dict({**data, "fusion": bad})


@pytest.mark.slow
def test_shipped_demo_model_loads_with_and_without_fusion():
    plain = StructureReportModel.from_pretrained(DEMO)
    assert plain.fusion is None
    config = ModelConfig.load(DEMO / "config.json")
    fused = StructureReportModel(dataclasses.replace(config, fusion=FusionConfig(enabled=True)),
                                 tokenizer=plain.decoder.tokenizer).load_weights(DEMO)
    state = plain.state_dict()
    for name, tensor in fused.state_dict().items():
        if not name.startswith("fusion."):
            assert torch.equal(tensor, state[name]), name


def test_llm_decoder_reads_the_fused_tokens(tmp_path, volumes):
    from tests.model.test_llm_decoder import llm_decoder_config, write_tiny_llama

    config = dataclasses.replace(_fused_config(), decoder=llm_decoder_config(write_tiny_llama(tmp_path / "llama")))
    torch.manual_seed(0)
    model = StructureReportModel(config).freeze_for_stage2().eval()
    drafts = model.generate(volumes, max_length=8, num_beams=1)
    assert model.generate(volumes, reference_reports=REFERENCES, max_length=8, num_beams=1) == drafts
    model.train()
    out = model.report_loss({"volume": volumes, "reports": REPORTS, "reference_reports": REFERENCES})
    out["loss"].backward()
    assert out["consistency"] > 0 and model.fusion.out.weight.grad.abs().sum() > 0
