"""Named model builders (segment-anything style): ``build_model("tiny" | "demo" | "paper")``."""

from __future__ import annotations

from ctrg_desktop.model.config import ModelConfig
from ctrg_desktop.model.report_model import StructureReportModel
from ctrg_desktop.reports.structures import load_structure_set


def _build(config: ModelConfig, checkpoint=None, **kwargs) -> StructureReportModel:
    """One private builder: checks the structure set, builds, optionally loads weights."""
    structures = load_structure_set(config.structure_set)
    if len(structures) != config.observer.num_structures:
        raise ValueError(f"structure set {config.structure_set!r} has {len(structures)} structures but "
                         f"the observer has {config.observer.num_structures} queries")
    if checkpoint is not None:
        return StructureReportModel.from_pretrained(checkpoint, **kwargs)
    return StructureReportModel(config, **kwargs)


MODEL_CONFIGS = {"tiny": ModelConfig.tiny, "demo": ModelConfig.demo, "paper": ModelConfig.paper}


def build_model(name: str = "demo", checkpoint=None, **kwargs) -> StructureReportModel:
    """A fresh model of a named preset, or one loaded from ``checkpoint`` (a folder)."""
    if name not in MODEL_CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODEL_CONFIGS)}")
    return _build(MODEL_CONFIGS[name](), checkpoint, **kwargs)
