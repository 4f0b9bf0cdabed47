"""Observation heads, structure-mask and token-choice options of the model."""

import dataclasses

import pytest
import torch

from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES
from ctrg_desktop.model import ModelConfig
from ctrg_desktop.model.config import ObservationConfig
from ctrg_desktop.model.observation import ObservationHeads, label_structure_indices
from ctrg_desktop.reports.structures import load_structure_set


def _with(config: ModelConfig, **parts) -> ModelConfig:
    return dataclasses.replace(config, **parts)


def test_every_label_reads_the_structure_that_reports_it():
    names = load_structure_set("chest_ct").names
    indices = label_structure_indices(names)
    assert len(indices) == 18
    assert names[indices[CT_RATE_LABELS.index("Cardiomegaly")]] == "mediastinum and heart"
    assert names[indices[CT_RATE_LABELS.index("Pleural effusion")]] == "pleura"
    assert all(names[i] == LABEL_STRUCTURES[label] for i, label in zip(indices, CT_RATE_LABELS))
    with pytest.raises(ValueError, match="lacks"):
        label_structure_indices(["lung", "others"])


def test_heads_learn_a_small_finding_inside_their_structure():
    """Label 0 (structure 0) is present when one patch inside structure 0's region carries a
    direction; the same direction outside the region (structure 1's) must not count."""
    torch.manual_seed(0)
    n_patches, dim, batch = 16, 8, 64
    heads = ObservationHeads(dim, 16, [0, 1])
    attention = torch.zeros(batch, 2, n_patches)
    attention[:, 0, :8] = 1 / 8
    attention[:, 1, 8:] = 1 / 8
    optimizer = torch.optim.Adam(heads.parameters(), lr=1e-2)
    signal = torch.zeros(dim)
    signal[0] = 4.0

    def sample():
        values = torch.randn(batch, n_patches, dim) * 0.5
        labels = torch.randint(0, 2, (batch,))
        decoy = torch.randint(0, 2, (batch,))
        spot = torch.randint(0, 8, (batch,))
        values[labels.bool(), spot[labels.bool()]] += signal
        values[decoy.bool(), 8 + spot[decoy.bool()]] += signal  # outside structure 0
        tokens = attention @ values
        return tokens, values, labels.float()

    for _ in range(300):
        tokens, values, labels = sample()
        logits = heads(tokens, attention, values)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    tokens, values, labels = sample()
    with torch.no_grad():
        predicted = heads(tokens, attention, values)[:, 0] > 0
    assert (predicted.float() == labels).float().mean() > 0.95


def test_decoder_tokens_mix_absent_and_present_by_probability():
    heads = ObservationHeads(4, 8, [0, 0])
    logits = torch.tensor([[-1e4, 1e4]])
    tokens = heads.decoder_tokens(logits)
    assert torch.allclose(tokens[0, 0], heads.absent[0]) and torch.allclose(tokens[0, 1], heads.present[1])


@pytest.fixture
def observing_config():
    config = ModelConfig.tiny()
    return _with(config, observation=ObservationConfig(enabled=True, hidden=16),
                 stage1=dataclasses.replace(config.stage1, mask_weight=1.0))


def test_model_with_heads_trains_them_in_stage1_and_freezes_them_in_stage2(make_model, volumes, observing_config):
    model = make_model(observing_config).train()
    p = observing_config.encoder.grid.num_patches
    batch = {"volume": volumes, "text_embeddings": torch.randn(2, 10, 384), "labels": torch.randint(0, 2, (2, 18)),
             "coverage": torch.rand(2, p, 10), "has_mask": torch.tensor([True, True])}
    out = model.structure_loss(batch)
    assert {"itc", "kl", "mask", "obs"} <= set(out)
    assert torch.allclose(out["loss"], 0.8 * out["itc"] + 0.2 * out["kl"] + out["mask"] + out["obs"])
    out["loss"].backward()
    assert model.observation.out_weight.grad is not None and model.observer.queries.grad is not None
    visual = model.encode(volumes)
    assert visual.observation_logits.shape == (2, 18)
    assert visual.decoder_tokens().shape == (2, 10 + 10 * 4 + 18, 32)
    model.freeze_for_stage2()
    assert not any(p.requires_grad for p in model.observation.parameters())


def test_stage1_runs_the_observation_loss_alone(make_model, volumes, observing_config):
    config = _with(observing_config, stage1=dataclasses.replace(observing_config.stage1, itc_weight=0.0, mask_weight=0.0))
    model = make_model(config).train()
    out = model.structure_loss({"volume": volumes, "labels": torch.randint(0, 2, (2, 18))})
    assert set(out) == {"obs", "loss"} and torch.allclose(out["loss"], out["obs"])
    assert int(model.queue.count.sum()) == 0  # no texts were needed or queued


def test_save_load_keeps_the_heads(make_model, tokenizer, volumes, observing_config, tmp_path):
    from ctrg_desktop.model import StructureReportModel

    model = make_model(observing_config).eval()
    model.save_pretrained(tmp_path)
    loaded = StructureReportModel.from_pretrained(tmp_path, tokenizer=tokenizer).eval()
    assert torch.allclose(model.encode(volumes).observation_logits, loaded.encode(volumes).observation_logits)


@pytest.mark.parametrize("top_k,tokens,count", [(0, "both", 10), (0, "structures", 10), (4, "structures", 10),
                                                (4, "patches", 40), (4, "both", 50)])
def test_k_ablation_token_choices(make_model, volumes, top_k, tokens, count):
    config = ModelConfig.tiny()
    config = _with(config, observer=dataclasses.replace(config.observer, top_k=top_k, tokens=tokens))
    model = make_model(config).eval()
    visual = model.encode(volumes)
    assert visual.topk_indices.shape == (2, 10, top_k)
    assert visual.decoder_tokens().shape == (2, count, 32)
    assert len(model.generate(volumes, num_beams=1, max_length=4)) == 2


def test_patch_only_needs_patches():
    with pytest.raises(ValueError, match="top_k"):
        dataclasses.replace(ModelConfig.tiny().observer, top_k=0, tokens="patches")
