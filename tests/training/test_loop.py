"""End to end on 4 tiny synthetic training studies: stage 1, resume, stage 2, errors, the CLI entry."""

import argparse
import io
import json

import pytest
import torch

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model import StructureReportModel
from ctrg_desktop.training.checkpoint import list_checkpoints
from ctrg_desktop.training.cli import add_train_parser
from ctrg_desktop.training.loop import train


@pytest.fixture(scope="module")
def stage1(tiny_data, tmp_path_factory, text_models):
    """One uninterrupted 20-step stage-1 run (the reference for resume and the parent of stage 2)."""
    from ctrg_desktop.training.config import TrainConfig

    out = tmp_path_factory.mktemp("stage1")
    cfg = TrainConfig(stage="structure", model="tiny", steps=20, batch_size=2, lr=1e-3, log_every=1,
                      checkpoint_every=5, keep_checkpoints=2, seed=0, device="cpu")
    result = train(cfg, tiny_data, out, stream=io.StringIO(), **text_models)
    return cfg, out, result


def _in_batch_itc(model, data, text_models) -> float:
    """ITC of the 4 training studies against each other only (queue emptied): the training loss
    itself rises while the queue fills with every structure's negatives (Eq. 3)."""
    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.training.dataset import StudyDataset, collate

    dataset = StudyDataset(CTRateDataset(data, "train").records, model.config)
    batch = collate([dataset[i] for i in range(len(dataset))])
    model = model.eval()
    model.queue.count.zero_()
    model._text_encoder = text_models["text_encoder"]
    with torch.no_grad():
        return float(model.structure_loss(batch)["itc"])


def test_stage1_learns_and_writes_run_folder(stage1, tiny_data, text_models):
    cfg, out, result = stage1
    losses = [p["loss"] for p in result.losses]
    assert len(losses) == 20 and all(torch.isfinite(torch.tensor(losses)))
    torch.manual_seed(cfg.seed)
    untrained = StructureReportModel(result.model.config, tokenizer=text_models["tokenizer"])
    trained = StructureReportModel.from_pretrained(out / "model", tokenizer=text_models["tokenizer"])
    assert _in_batch_itc(trained, tiny_data, text_models) < _in_batch_itc(untrained, tiny_data, text_models)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21))
    assert {"loss", "itc", "kl", "lr", "samples_per_s", "elapsed_s"} <= log[0].keys()
    resolved = json.loads((out / "train_config.json").read_text())
    assert resolved["train"]["lr"] == 1e-3 and resolved["model"]["encoder"]["dim"] == 32
    assert [p.name for p in list_checkpoints(out)] == ["step-00000015", "step-00000020"]
    assert {"config.json", "model.safetensors", "card.md"} <= {p.name for p in (out / "model").iterdir()}
    model = StructureReportModel.from_pretrained(out / "model")
    assert int(model.queue.count[0]) == 16  # 40 texts offered to a queue of 16 per structure


def test_resume_reproduces_uninterrupted_losses(stage1, tiny_data, tmp_path, text_models):
    cfg, _, reference = stage1
    first = train(cfg, tiny_data, tmp_path, stop_after=12, stream=io.StringIO(), **text_models)
    assert first.step == 12 and first.model_dir is None  # "crashed" after step 12; last checkpoint: 10
    stream = io.StringIO()
    second = train(cfg, tiny_data, tmp_path, resume=True, stream=stream, **text_models)
    assert "resuming" in stream.getvalue() and second.start_step == 10
    ref = [p["loss"] for p in reference.losses[10:]]
    assert [p["loss"] for p in second.losses] == ref
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21))


def test_stage2_from_stage1(stage1, tiny_data, tmp_path, text_models, tiny_cfg):
    _, parent, _ = stage1
    cfg = tiny_cfg(stage="report", model=None, init_from=str(parent), steps=4)
    result = train(cfg, tiny_data, tmp_path, stream=io.StringIO(), **text_models)
    assert all(torch.isfinite(torch.tensor(p["loss"])) for p in result.losses)
    before = StructureReportModel.from_pretrained(parent / "model")
    after = StructureReportModel.from_pretrained(result.model_dir)
    for part in ("encoder", "observer", "image_proj"):  # frozen in stage 2
        old, new = getattr(before, part).state_dict(), getattr(after, part).state_dict()
        assert all(torch.equal(old[k], new[k]) for k in old), part
    assert not all(torch.equal(a, b) for a, b in zip(before.decoder.state_dict().values(),
                                                     after.decoder.state_dict().values()))


def test_input_errors(tiny_data, tmp_path, tiny_cfg, stage1, text_models):
    with pytest.raises(ValueError, match="does not exist"):
        train(tiny_cfg(), tmp_path / "nowhere", tmp_path / "out", stream=io.StringIO())
    with pytest.raises(CtrgError, match="holds no model"):
        train(tiny_cfg(init_from=str(tmp_path)), tiny_data, tmp_path / "out", stream=io.StringIO())
    _, parent, _ = stage1
    changed = tiny_cfg(batch_size=1)
    with pytest.raises(CtrgError, match="cannot resume.*batch_size"):
        train(changed, tiny_data, parent, resume=True, stream=io.StringIO(), **text_models)


def test_cli_entry_stage_mismatch_and_overrides(tmp_path, tiny_data):
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers())
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"stage": "structure", "model": "tiny", "steps": 3}))
    args = parser.parse_args(["train", "report", "--config", str(config), "--data", str(tiny_data),
                              "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="is for stage 'structure'"):
        args.func(args)
    assert args.resume is False and args.steps is None


@pytest.mark.parametrize("stage, freeze, encoder_trains, decoder_trains", [
    ("structure", True, True, False), ("report", True, False, True), ("report", False, True, True)])
def test_which_parts_each_stage_trains(stage, freeze, encoder_trains, decoder_trains):
    """Stage 1 trains the encoder, not the decoder; stage 2 the decoder; report-only ablation both."""
    from ctrg_desktop.model import ModelConfig
    from ctrg_desktop.training.config import TrainConfig
    from ctrg_desktop.training.loop import build_training_model

    cfg = TrainConfig(stage=stage, model="tiny", steps=1, freeze_visual=freeze)
    model = build_training_model(cfg, ModelConfig.tiny(), None)
    assert all(p.requires_grad == encoder_trains for p in model.encoder.parameters())
    assert all(p.requires_grad == encoder_trains for p in model.observer.parameters())
    assert all(p.requires_grad == decoder_trains for p in model.decoder.parameters())
