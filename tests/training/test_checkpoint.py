import random

import numpy as np
import pytest
import torch

from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_training_state,
    save_training_checkpoint,
    set_rng_state,
)


def _model_and_optimizer(tokenizer, seed=0):
    torch.manual_seed(seed)
    model = StructureReportModel(ModelConfig.tiny(), tokenizer=tokenizer)
    params = [p for p in model.parameters() if p.requires_grad]
    return model, torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01)


def test_round_trip_restores_weights_optimizer_and_rng(tmp_path, text_models):
    tok = text_models["tokenizer"]
    model, opt = _model_and_optimizer(tok)
    loss = model.encode(torch.randn(1, 1, 16, 32, 32)).structure_tokens.square().mean()
    loss.backward()
    opt.step()
    model.queue.update(torch.randn(2, 10, 32))
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    folder = save_training_checkpoint(tmp_path, model, opt, step=7, epoch=1, batch_in_epoch=3,
                                      train_config={"train": {"stage": "structure"}}, scheduler={"step": 7})
    expected = (random.random(), float(np.random.rand()), torch.rand(3))

    fresh, fresh_opt = _model_and_optimizer(tok, seed=1)
    state = load_training_state(folder)
    fresh.load_weights(folder)
    fresh_opt.load_state_dict(state.optimizer)
    set_rng_state(state.rng)
    assert (state.step, state.epoch, state.batch_in_epoch, state.scheduler) == (7, 1, 3, {"step": 7})
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    assert int(fresh.queue.count[0]) == 2
    saved, loaded = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert saved and saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k]["exp_avg_sq"], loaded[k]["exp_avg_sq"]) for k in saved)
    assert (random.random(), float(np.random.rand())) == expected[:2]
    assert torch.equal(torch.rand(3), expected[2])


def test_keep_last_and_leftovers(tmp_path, text_models):
    model, opt = _model_and_optimizer(text_models["tokenizer"])
    stale = tmp_path / "checkpoints" / ".step-00000001.tmp-999999999"
    stale.mkdir(parents=True)
    for step in (1, 2, 3):
        save_training_checkpoint(tmp_path, model, opt, step=step, epoch=0, batch_in_epoch=step,
                                 train_config={}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]
    assert latest_checkpoint(tmp_path).name == "step-00000003"
    assert not stale.exists()
    save_training_checkpoint(tmp_path, model, opt, step=3, epoch=0, batch_in_epoch=3, train_config={}, keep=2)
    assert len(list_checkpoints(tmp_path)) == 2


def test_damaged_checkpoint_is_a_one_line_error(tmp_path, text_models):
    model, opt = _model_and_optimizer(text_models["tokenizer"])
    folder = save_training_checkpoint(tmp_path, model, opt, step=1, epoch=0, batch_in_epoch=1, train_config={})
    (folder / "training_state.pt").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="cannot be read") as info:
        load_training_state(folder)
    assert "\n" not in str(info.value)
