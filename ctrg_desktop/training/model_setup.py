"""Setting up a training run's model: the starting model, the model config with the run's decoder
changes, the model built and frozen for the stage, its optimizer, and the stage's loss as one module."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from ctrg_desktop.model.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from ctrg_desktop.model.config import DecoderConfig, ModelConfig
from ctrg_desktop.model.registry import MODEL_CONFIGS
from ctrg_desktop.model.report_model import StructureReportModel
from ctrg_desktop.reports.structures import load_structure_set
from ctrg_desktop.training.checkpoint import CheckpointError, latest_checkpoint
from ctrg_desktop.training.config import TrainConfig

MODEL_DIR = "model"


def resolve_init_folder(path) -> Path:
    """A model folder (config.json + model.safetensors) from ``init_from``: the folder itself,
    its ``model/`` (a finished run), its newest checkpoint (an unfinished run), or a model-zoo name."""
    folder = Path(path).expanduser()
    if not folder.exists():
        from ctrg_desktop.model.zoo import ModelZooError, resolve_model_folder

        try:
            return resolve_model_folder(str(path), need_weights=True)
        except ModelZooError:
            raise CheckpointError(f"init_from {folder} does not exist (neither a folder nor a model-zoo "
                                  f"name)") from None
    candidates = [folder, folder / MODEL_DIR]
    newest = latest_checkpoint(folder)
    candidates += [newest] if newest is not None else []
    for candidate in candidates:
        if (candidate / WEIGHTS_NAME).is_file() and (candidate / CONFIG_NAME).is_file():
            return candidate
    raise CheckpointError(f"init_from {folder} holds no model (no {CONFIG_NAME} + {WEIGHTS_NAME}, "
                          f"no {MODEL_DIR}/ and no checkpoints/)")


def resolve_model_config(cfg: TrainConfig) -> tuple[ModelConfig, Path | None]:
    """(model config, parent model folder or None) from ``init_from`` / ``model_config`` / ``model``,
    with ``cfg.decoder``'s changes; an LLM decoder's base is pinned by its SHA-256."""
    parent = None
    if cfg.init_from:
        parent = resolve_init_folder(cfg.init_from)
        config = ModelConfig.load(parent / CONFIG_NAME)
    elif cfg.model_config:
        if not Path(cfg.model_config).is_file():
            raise ValueError(f"model_config {cfg.model_config} does not exist")
        config = ModelConfig.load(cfg.model_config)
    elif cfg.model not in MODEL_CONFIGS:
        raise ValueError(f"unknown model preset {cfg.model!r}; choose from {sorted(MODEL_CONFIGS)}")
    else:
        config = MODEL_CONFIGS[cfg.model]()
    if cfg.decoder:
        config = dataclasses.replace(config, decoder=changed_decoder(config.decoder, cfg.decoder_config_changes()))
    config = cfg.with_fusion_changes(config)
    if config.decoder.kind == "llm":
        from ctrg_desktop.model.llm_base import pin_base

        config = dataclasses.replace(config, decoder=pin_base(config.decoder))
    return config, parent


def changed_decoder(decoder: DecoderConfig, changes: dict) -> DecoderConfig:
    """``decoder`` with ``changes`` applied (``llm`` merged field by field); ``ValueError`` if invalid.

    A change of the base model clears the pinned ``base_sha256`` unless the changes set one."""
    data = dataclasses.asdict(decoder)
    llm_changes = dict(changes.get("llm") or {})
    data.update({k: v for k, v in changes.items() if k != "llm"})
    if decoder.kind == "llm" and data.get("kind") == "bert" and "tokenizer" not in changes:
        data["tokenizer"] = DecoderConfig().tokenizer  # the LLM's base named the tokenizer
    if llm_changes or data.get("kind") == "llm":
        llm = data.get("llm") or {}
        if "base" in llm_changes and llm_changes["base"] != llm.get("base") and "base_sha256" not in llm_changes:
            llm["base_sha256"] = ""
        data["llm"] = {**llm, **llm_changes}
    try:
        return DecoderConfig(**data)
    except TypeError as exc:
        raise ValueError(f"decoder settings: {exc}") from exc


def build_training_model(cfg: TrainConfig, model_config: ModelConfig, parent: Path | None,
                         **model_kwargs) -> StructureReportModel:
    """Build, load the parent's weights, freeze what the stage does not train."""
    structures = load_structure_set(model_config.structure_set)
    if len(structures) != model_config.observer.num_structures:
        raise ValueError(f"structure set {model_config.structure_set!r} has {len(structures)} structures but "
                         f"the observer has {model_config.observer.num_structures} queries")
    model = StructureReportModel(model_config, **model_kwargs)
    if parent is not None:
        # A decoder other than the parent's starts fresh: only the visual part comes from the parent.
        fresh = ModelConfig.load(parent / CONFIG_NAME).decoder != model_config.decoder
        try:
            model.load_weights(parent, exclude=("decoder",) if fresh else ())
        except ValueError as exc:
            raise CheckpointError(f"cannot start from {parent}: {str(exc).splitlines()[0]}") from exc
    if cfg.stage == "structure":
        model.decoder.requires_grad_(False)  # stage 1 never uses the decoder
    elif cfg.freeze_visual:
        model.freeze_for_stage2()
    return model


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; matrices decay, biases/norms/temperature do not."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters for this stage")
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate, betas=cfg.betas,
                             eps=cfg.eps)


class StageLoss(nn.Module):
    """``forward(batch)`` = the stage's loss dict, so DDP wraps one forward (hooks and all)."""

    def __init__(self, model: StructureReportModel, stage: str):
        super().__init__()
        self.model, self.stage = model, stage

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        if self.stage == "structure":
            return self.model.structure_loss(batch)
        return self.model.report_loss(batch)
