import pytest

from ctrg_desktop.model import EncoderConfig, ModelConfig, ObserverConfig, Stage1Config


@pytest.mark.parametrize("preset, tokens", [("tiny", 64), ("demo", 768), ("paper", 4096)])
def test_presets_token_counts(preset, tokens):
    assert getattr(ModelConfig, preset)().encoder.grid.num_patches == tokens


def test_paper_preset_matches_the_paper():
    config = ModelConfig.paper()
    assert config.encoder.input_shape == (240, 480, 480)
    assert config.encoder.spacing == (1.5, 0.75, 0.75)
    assert config.encoder.grid.counts == (16, 16, 16)
    assert (config.encoder.spatial_depth, config.encoder.temporal_depth, config.encoder.heads) == (4, 4, 8)
    assert config.observer.top_k == 10 and config.stage1.queue_size == 1000


def test_json_round_trip(tmp_path):
    config = ModelConfig.demo()
    config.observer.kind = "bert"
    config.save(tmp_path / "config.json")
    assert ModelConfig.load(tmp_path / "config.json") == config


def test_unknown_field_is_a_value_error():
    data = ModelConfig.tiny().to_dict()
    data["encoder"]["depth"] = 3
    with pytest.raises(ValueError, match="unknown field.*depth"):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize("make", [
    lambda: EncoderConfig(input_shape=(10, 32, 32), patch=(4, 8, 8)),
    lambda: EncoderConfig(window="bone"),
    lambda: ObserverConfig(kind="mlp"),
    lambda: Stage1Config(queue_update="lifo"),
    lambda: Stage1Config(alpha=1.5),
])
def test_invalid_configs(make):
    with pytest.raises(ValueError):
        make()


def test_paper_model_forward_on_reduced_input():
    """The paper's widths and depths on a 2x2x2-patch input (30x60x60): shapes of every output."""
    import dataclasses

    import torch

    from ctrg_desktop.model import StructureReportModel

    paper = ModelConfig.paper()
    small = dataclasses.replace(paper, encoder=dataclasses.replace(paper.encoder, input_shape=(30, 60, 60)),
                                observer=dataclasses.replace(paper.observer, top_k=4))
    model = StructureReportModel(small).eval()
    with torch.no_grad():
        out = model.encode(torch.randn(1, 1, 30, 60, 60))
    assert out.patch_features.shape == (1, 8, 512)
    assert out.structure_tokens.shape == (1, 10, 512) and out.attention.shape == (1, 10, 8)
    assert out.topk_indices.shape == (1, 10, 4) and out.decoder_tokens().shape == (1, 50, 512)
    assert 60e6 < sum(p.numel() for p in model.parameters()) < 70e6
