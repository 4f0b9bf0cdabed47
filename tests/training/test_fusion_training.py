"""Training with retrieved reference reports: the references file, the samples and batches, the
train-config fields, and one optimiser step of a fused model started from one without fusion."""

import json

import pytest
import torch

from ctrg_desktop.data.ctrate import CTRateDataset
from ctrg_desktop.model import ModelConfig, StructureReportModel
from ctrg_desktop.training.config import TrainConfig
from ctrg_desktop.training.dataset import StudyDataset, collate, read_reference_reports
from ctrg_desktop.training.loop import StageLoss, build_training_model, make_optimizer, resolve_model_config


@pytest.fixture
def references(tiny_data, tmp_path):
    """A references file: every train study -> the next train study (the last one: none)."""
    names = [r.volume_name for r in CTRateDataset(tiny_data, "train")]
    table = {name: [names[i + 1]] for i, name in enumerate(names[:-1])}
    table[names[-1]] = []
    path = tmp_path / "refs_train.json"
    path.write_text(json.dumps(table))
    return path, names


def test_read_reference_reports(tiny_data, references, tmp_path):
    path, names = references
    findings = {r.volume_name: r.findings.strip() for r in CTRateDataset(tiny_data, None)}
    refs = read_reference_reports(path, tiny_data)
    assert refs == {name: findings[names[i + 1]] for i, name in enumerate(names[:-1])}
    bad = tmp_path / "bad.json"
    for content, match in (("{", "cannot read"), ('{"a": "b"}', "lists of reference names"),
                           (json.dumps({names[0]: ["train_999_a_1"]}), "train_999_a_1"),
                           (json.dumps({"nobody": [names[0]]}), "nobody"),
                           (json.dumps({names[0]: [names[0]]}), "its own reference")):
        bad.write_text(content)
        with pytest.raises(ValueError, match=match):
            read_reference_reports(bad, tiny_data)
    with pytest.raises(ValueError, match="cannot read"):
        read_reference_reports(tmp_path / "absent.json", tiny_data)


def test_samples_and_batches_carry_the_reference(tiny_data, references):
    path, names = references
    records = CTRateDataset(tiny_data, "train")
    refs = read_reference_reports(path, tiny_data)
    dataset = StudyDataset(records, ModelConfig.tiny(), references=refs)
    samples = [dataset[i] for i in range(len(dataset))]
    by_name = {s["name"]: s["reference_report"] for s in samples}
    assert by_name[names[0]] == refs[names[0]] and by_name[names[-1]] == ""
    batch = collate(samples[:2])
    assert batch["reference_reports"] == [s["reference_report"] for s in samples[:2]]
    assert "reference_reports" not in collate([StudyDataset(records, ModelConfig.tiny())[0]])


def test_train_config_fusion_and_references_fields():
    cfg = TrainConfig(stage="report", model="tiny", steps=1, fusion={"enabled": True, "attention": "softmax"},
                      references="refs.json")
    changed = cfg.with_fusion_changes(ModelConfig.tiny())
    assert changed.fusion.enabled and changed.fusion.attention == "softmax" and changed.fusion.iterations == 100
    assert TrainConfig(model="tiny", steps=1).with_fusion_changes(ModelConfig.tiny()).fusion.enabled is False
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    for changes, match in (({"fusion": {"sinkhorn": 1}}, "unknown"), ({"fusion": {"attention": "dot"}}, "attention"),
                           ({"fusion": {"epsilon": "small"}}, "epsilon"), ({"fusion": True}, "fusion"),
                           ({"references": ""}, "references"), ({"references": 3}, "references")):
        with pytest.raises(ValueError, match=match):
            TrainConfig(model="tiny", steps=1, **changes)


def test_one_training_step_with_references_from_a_model_without_fusion(tiny_data, references, tmp_path,
                                                                        tiny_cfg, text_models):
    path, _ = references
    torch.manual_seed(0)
    parent = tmp_path / "parent"
    StructureReportModel(ModelConfig.tiny(), tokenizer=text_models["tokenizer"]).save_pretrained(parent)
    cfg = tiny_cfg(stage="report", model=None, init_from=str(parent), steps=1, batch_size=2,
                   fusion={"enabled": True}, references=str(path))
    model_config, found = resolve_model_config(cfg)
    model_config = cfg.with_fusion_changes(model_config)
    model = build_training_model(cfg, model_config, found, **text_models)
    assert model.fusion is not None and model.fusion.out.weight.abs().sum() == 0
    model.train()
    dataset = StudyDataset(CTRateDataset(tiny_data, "train"), model.config,
                           references=read_reference_reports(cfg.references, tiny_data))
    batch = collate([dataset[0], dataset[1]])
    optimizer = make_optimizer(model, cfg)
    out = StageLoss(model, "report")(batch)
    assert set(out) == {"loss", "consistency"} and torch.isfinite(out["loss"]) and out["consistency"] > 0
    optimizer.zero_grad()
    out["loss"].backward()
    optimizer.step()
    assert model.fusion.out.weight.abs().sum() > 0  # the fusion learns from the first step
    model.save_pretrained(tmp_path / "fused")
    again = StructureReportModel.from_pretrained(tmp_path / "fused", tokenizer=text_models["tokenizer"])
    assert torch.equal(again.fusion.out.weight, model.fusion.out.weight)


def test_shipped_fusion_configs_differ_only_in_the_fusion():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "configs" / "train"
    base = TrainConfig.load(folder / "demo_v4_fusion_baseline.json").to_dict()
    assert base["fusion"] is None and base["references"] is None and base["init_from"] == "demo"
    assert (base["stage"], base["steps"], base["batch_size"], base["lr"]) == ("report", 300, 4, 1e-4)
    for name, attention in (("demo_v4_fusion.json", "sinkhorn"), ("demo_v4_fusion_softmax.json", "softmax")):
        cfg = TrainConfig.load(folder / name)
        assert {k: v for k, v in cfg.to_dict().items() if k not in ("fusion", "references")} == \
            {k: v for k, v in base.items() if k not in ("fusion", "references")}
        fusion = cfg.with_fusion_changes(ModelConfig.demo()).fusion
        assert fusion.enabled and fusion.attention == attention and cfg.references == "refs_oracle_train.json"
