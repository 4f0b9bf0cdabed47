from pathlib import Path

import pytest

from ctrg_desktop.training.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("name", ["demo_structure", "demo_report", "tiny_structure", "tiny_report"])
def test_repo_configs_load(name):
    cfg = TrainConfig.load(CONFIGS / f"{name}.json")
    assert cfg.stage == name.split("_")[1]
    assert cfg.learning_rate > 0 and cfg.steps > 0


def test_paper_defaults_and_toml(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('stage = "report"\nmodel = "tiny"\nepochs = 2\nbetas = [0.9, 0.95]\n')
    cfg = TrainConfig.load(path)
    assert cfg.learning_rate == 1e-4 and cfg.betas == (0.9, 0.95) and cfg.weight_decay == 0.01
    assert TrainConfig(steps=1).learning_rate == 1e-5
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("data, match", [
    ({"steps": 1, "bogus": 1}, "unknown field"),
    ({"steps": 0}, "steps"),
    ({}, "steps or epochs"),
    ({"steps": 1, "stage": "both"}, "stage"),
    ({"steps": 1, "mixed_precision": "fp8"}, "mixed_precision"),
    ({"steps": 1, "warmup_fraction": 1.5}, "warmup_fraction"),
])
def test_bad_fields_are_one_line_value_errors(data, match):
    with pytest.raises(ValueError, match=match) as info:
        TrainConfig.from_dict(data)
    assert "\n" not in str(info.value)


def test_unreadable_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{steps: 1")
    with pytest.raises(ValueError, match="cannot parse"):
        TrainConfig.load(bad)
    with pytest.raises(ValueError, match="does not exist"):
        TrainConfig.load(tmp_path / "absent.json")
