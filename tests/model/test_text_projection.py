"""Stage 1's text projection: trained (the default) or frozen at its seeded init."""

import pytest
import torch

from ctrg_desktop.model import ModelConfig


def _batch(volumes):
    torch.manual_seed(0)
    return {"volume": volumes, "text_embeddings": torch.randn(2, 10, 384)}


def test_frozen_text_projection_gets_no_gradient_while_the_image_side_does(make_model, volumes):
    config = ModelConfig.tiny()
    config.stage1.text_proj = "frozen"
    model = make_model(config).train()
    before = model.text_proj.weight.detach().clone()
    model.structure_loss(_batch(volumes))["loss"].backward()
    assert model.text_proj.weight.grad is None and not model.text_proj.weight.requires_grad
    assert model.image_proj.weight.grad.abs().sum() > 0
    assert torch.equal(model.text_proj.weight, before)


def test_trained_text_projection_is_the_default_and_learns(make_model, volumes):
    model = make_model(ModelConfig.tiny()).train()
    model.structure_loss(_batch(volumes))["loss"].backward()
    assert model.text_proj.weight.grad.abs().sum() > 0


def test_demo_preset_freezes_it_and_bad_values_are_refused():
    assert ModelConfig.demo().stage1.text_proj == "frozen"
    config = ModelConfig.tiny().to_dict()
    config["stage1"]["text_proj"] = "momentum"
    with pytest.raises(ValueError, match="text_proj"):
        ModelConfig.from_dict(config)
