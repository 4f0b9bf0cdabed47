"""Stage 1 with observation heads and the structure-mask loss: data, balance and a short run."""

import json

import numpy as np
import pytest
import torch

from ctrg_desktop.data.ctrate import CTRateDataset
from ctrg_desktop.model import ModelConfig
from ctrg_desktop.training.balance import label_matrix, positive_weights, resampling_weights
from ctrg_desktop.training.dataset import ShardedBatchSampler, StudyDataset, collate
from ctrg_desktop.training.loop import train


def test_positive_weights_are_negatives_over_positives():
    labels = np.array([[1, 0, -1], [0, 0, -1], [0, 0, -1], [0, 1, -1]])
    assert positive_weights(labels).tolist() == pytest.approx([3.0, 3.0, 1.0])
    assert positive_weights(np.array([[1]] + [[0]] * 99), cap=20.0).tolist() == [20.0]


def test_resampling_favours_studies_with_rare_labels():
    labels = np.array([[1, 0], [1, 0], [1, 0], [1, 1]])  # label 1 in one study of four
    weights = resampling_weights(labels)
    assert weights[3] / weights[0] == pytest.approx(4.0)
    assert weights.mean().item() == pytest.approx(1.0)


def test_weighted_sampler_is_reproducible_and_follows_the_weights():
    sampler = ShardedBatchSampler(10, 2, seed=1)
    sampler.weights = torch.tensor([0.0] * 9 + [1.0], dtype=torch.double)
    sampler.set_epoch(0)
    first = list(sampler)
    assert all(i == 9 for batch in first for i in batch) and len(first) == 5
    sampler.set_epoch(0, start_batch=2)
    assert list(sampler) == first[2:]


def test_samples_carry_label_map_coverage(tiny_data, tmp_path):
    config = ModelConfig.tiny()
    records = CTRateDataset(tiny_data, "train").records
    dataset = StudyDataset(records, config, cache_dir=tmp_path, with_coverage=True)
    sample = dataset[0]
    assert sample["has_mask"] and sample["coverage"].shape == (config.encoder.grid.num_patches, 10)
    assert 0.3 < float(sample["coverage"].sum(1).mean()) <= 1.0 + 1e-3  # the body fills much of the grid
    assert list(tmp_path.rglob("*.coverage.npy"))  # cached
    assert torch.allclose(dataset[0]["coverage"], sample["coverage"])
    batch = collate([dataset[0], dataset[1]])
    assert batch["coverage"].shape[0] == 2 and batch["has_mask"].tolist() == [True, True]
    assert label_matrix(records).shape == (len(records), 18)


def test_short_stage1_run_with_heads_and_masks_lowers_both_losses(tiny_data, tiny_cfg, text_models, tmp_path):
    config = ModelConfig.tiny().to_dict()
    config["observation"] = {"enabled": True, "hidden": 16, "balance": "pos_weight"}
    config["stage1"]["mask_weight"] = 1.0
    config["observer"]["query_init"] = 1.0
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    cfg = tiny_cfg(model=None, model_config=str(path), steps=24, lr=3e-3, cache_dir=str(tmp_path / "cache"))
    result = train(cfg, tiny_data, tmp_path / "run", **text_models)
    first, last = result.losses[0], result.losses[-1]
    assert {"mask", "obs", "itc"} <= set(first)
    assert last["mask"] < first["mask"] and last["obs"] < first["obs"]
    assert result.model.observation_pos_weight is not None
