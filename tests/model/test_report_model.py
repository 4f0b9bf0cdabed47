import pytest
import torch

from ctrg_desktop.model import ModelConfig, build_model


def _stage1_batch(volumes, seed=0):
    torch.manual_seed(seed)
    return {"volume": volumes, "text_embeddings": torch.randn(2, 10, 384)}


def test_encode_shapes(make_model, volumes):
    out = make_model().encode(volumes)
    assert out.patch_features.shape == (2, 64, 32)
    assert out.structure_tokens.shape == (2, 10, 32) and out.attention.shape == (2, 10, 64)
    assert out.topk_indices.shape == (2, 10, 4) and out.topk_features.shape == (2, 10, 4, 32)
    assert out.decoder_tokens().shape == (2, 10 + 40, 32)


def test_stage1_gradients_reach_queries_and_encoder_and_fill_the_queue(make_model, volumes):
    model = make_model().train()
    out = model.structure_loss(_stage1_batch(volumes))
    out["loss"].backward()
    assert model.observer.queries.grad.abs().sum() > 0
    assert model.encoder.patch_embed[1].weight.grad.abs().sum() > 0
    assert model.log_temperature.grad is not None
    assert model.queue.count.tolist() == [2] * 10
    model.structure_loss(_stage1_batch(volumes, seed=1))["loss"].backward()  # queue now in the logits


def test_eval_mode_leaves_the_queue_alone(make_model, volumes):
    model = make_model().eval()
    model.structure_loss(_stage1_batch(volumes))
    assert model.queue.count.sum() == 0


def test_stage1_ablation_switches(make_model, volumes):
    config = ModelConfig.tiny()
    config.stage1.use_queue, config.stage1.use_kl, config.stage1.learnable_temperature = False, False, False
    model = make_model(config).train()
    out = model.structure_loss(_stage1_batch(volumes))
    assert model.queue.count.sum() == 0 and out["kl"] == 0
    assert "log_temperature" not in dict(model.named_parameters())
    assert model.temperature.item() == pytest.approx(0.07)


def test_bert_observer_and_fifo_queue_in_the_model(make_model, volumes):
    config = ModelConfig.tiny()
    config.observer.kind, config.stage1.queue_update = "bert", "fifo"
    model = make_model(config).train()
    model.structure_loss(_stage1_batch(volumes))["loss"].backward()
    assert model.queue.mode == "fifo" and model.observer.queries.grad.abs().sum() > 0


def test_stage2_freezes_everything_but_the_decoder(make_model, volumes):
    model = make_model().freeze_for_stage2().train()
    assert model.decoder.training and not model.encoder.training and not model.observer.training
    batch = {"volume": volumes, "reports": ["Heart size is normal.", "Lung nodule."]}
    model.report_loss(batch)["loss"].backward()
    assert model.observer.queries.grad is None and model.encoder.patch_embed[1].weight.grad is None
    assert model.decoder.lm.bert.encoder.layer[0].crossattention.self.key.weight.grad.abs().sum() > 0
    assert model.decoder.visual_proj[0].weight.grad.abs().sum() > 0


def test_save_load_round_trip(make_model, tokenizer, volumes, tmp_path):
    model = make_model().train()
    model.structure_loss(_stage1_batch(volumes))  # something in the queue
    model.eval().save_pretrained(tmp_path / "ckpt")
    loaded = type(model).from_pretrained(tmp_path / "ckpt", tokenizer=tokenizer).eval()
    assert torch.equal(loaded.queue.features, model.queue.features)
    a, b = model.encode(volumes), loaded.encode(volumes)
    assert torch.equal(a.decoder_tokens(), b.decoder_tokens())
    batch = {"volume": volumes, "reports": ["No effusion.", "Heart size increased."]}
    assert torch.equal(model.report_loss(batch)["loss"], loaded.report_loss(batch)["loss"])
    greedy = {"num_beams": 1, "max_length": 6}
    assert model.generate(volumes, **greedy) == loaded.generate(volumes, **greedy)


def test_incompatible_config_names_the_fields(make_model, tmp_path):
    make_model().save_pretrained(tmp_path / "ckpt")
    other = ModelConfig.tiny()
    other.encoder.dim = 48
    with pytest.raises(ValueError, match=r"encoder\.dim: checkpoint 32 vs model 48"):
        make_model(other).load_weights(tmp_path / "ckpt")


def test_weights_that_do_not_fit_the_config_name_the_tensors(make_model, tokenizer, tmp_path):
    make_model().save_pretrained(tmp_path / "ckpt")
    other = ModelConfig.tiny()
    other.observer.dim = 16
    other.save(tmp_path / "ckpt" / "config.json")
    expected = r"observer\.queries: checkpoint shape \(10, 32\) vs model \(10, 16\)"
    with pytest.raises(ValueError, match=expected):
        type(make_model()).from_pretrained(tmp_path / "ckpt", tokenizer=tokenizer)


def test_missing_weights_file(make_model, tmp_path):
    with pytest.raises(ValueError, match="no model.safetensors"):
        make_model().load_weights(tmp_path)


def test_registry():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("huge")
    assert build_model("tiny").config == ModelConfig.tiny()
