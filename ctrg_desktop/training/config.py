"""Training configuration: one dataclass, read from a JSON or TOML file, written back resolved.

Example (``configs/train/demo_structure.json``)::

    {"stage": "structure", "model": "demo", "steps": 2000, "batch_size": 2, "lr": 1e-5}

Exactly one source of the model: ``model`` (a preset name: tiny, demo, paper), ``model_config``
(a ModelConfig JSON file) or ``init_from`` (a model folder with ``config.json`` +
``model.safetensors``, a training output folder: its ``model/`` or latest checkpoint, or a
model-zoo name). ``init_from`` wins over the other two; stage "report" normally starts from the
stage-1 result. ``decoder`` changes the model's decoder section, e.g. the LLM decoder::

    {"stage": "report", "init_from": "demo", "decoder": {"kind": "llm", "llm": {"base": "smollm2"}}}

A decoder that differs from the ``init_from`` model's starts fresh (only the encoder, queries
and stage-1 heads are taken from it). ``fusion`` changes the model's fusion section and
``references`` names the retrieved reference reports (``ctrg retrieval neighbours``)::

    {"stage": "report", "init_from": "demo", "fusion": {"enabled": true}, "references": "refs_train.json"}

A fusion added to an ``init_from`` model without one starts at its zero output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ctrg_desktop.config_fields import check_fields

STAGES = ("structure", "report")
DEFAULT_LR = {"structure": 1e-5, "report": 1e-4}
PRECISIONS = ("no", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
REPORT_TEXTS = ("findings", "structures")


@dataclass
class TrainConfig:
    """All settings of one training run (stage 1 "structure" or stage 2 "report").

    Length: ``steps`` optimiser steps, or ``epochs`` passes over the training split (one of the
    two; ``steps`` wins). ``batch_size`` is per process (DDP: global = batch_size x world size).
    ``lr`` None takes the paper's value for the stage (1e-5 / 1e-4). ``warmup_fraction`` of the
    steps warm up linearly, then the rate decays linearly to 0. ``grad_clip`` 0 disables
    clipping. ``mixed_precision`` "bf16"/"fp16" autocast on CUDA only (ignored on CPU).
    Intervals are in steps (0 = never; a checkpoint is always written at the end).
    ``cache_dir``: "auto" (``OUT/cache``), a folder, or None (no cache of preprocessed arrays).
    ``freeze_visual`` (stage "report"): freeze encoder and queries (the paper's stage 2); False
    trains them through the report loss too ("report learning alone", the paper's ablation).
    ``report_text``: what the decoder learns, "findings" (the report as written) or "structures"
    (the per-structure texts joined in structure order, :func:`join_structure_texts`).
    ``decoder``: fields of the model's ``DecoderConfig`` to change (``kind`` "bert"/"llm", ``llm``
    settings: base, lora_r, ...; module docstring), or None to keep it.
    ``fusion``: fields of the model's ``FusionConfig`` to change (``enabled``, ``attention``, ...),
    or None to keep it. ``references``: a JSON file {"study name": ["reference name", ...]}; the
    first reference's findings (from the same data folder) are fused into the study's draft.
    """

    stage: str = "structure"
    model: str | None = "demo"
    model_config: str | None = None
    init_from: str | None = None
    freeze_visual: bool = True
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 2
    lr: float | None = None
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    mixed_precision: str = "no"
    log_every: int = 10
    eval_every: int = 0
    eval_batches: int = 8
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    num_workers: int = 0
    seed: int = 0
    device: str = "auto"
    cache_dir: str | None = "auto"
    report_text: str = "findings"
    train_split: str = "train"
    eval_split: str = "valid"
    missing_volumes: str = "error"
    decoder: dict | None = None
    fusion: dict | None = None
    references: str | None = None

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.validate()

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` (one line) for an unusable setting; returns self."""
        _choice("stage", self.stage, STAGES)
        _choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _choice("device", self.device, DEVICES)
        _choice("report_text", self.report_text, REPORT_TEXTS)
        _choice("missing_volumes", self.missing_volumes, ("error", "skip"))
        if self.model is None and self.model_config is None and self.init_from is None:
            raise ValueError("train config needs one of model, model_config or init_from")
        if self.steps is None and self.epochs is None:
            raise ValueError("train config needs steps or epochs")
        for name in ("steps", "epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("log_every", "eval_every", "eval_batches", "checkpoint_every", "num_workers", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not isinstance(self.keep_checkpoints, int) or self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be an integer >= 1, got {self.keep_checkpoints!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two values in [0, 1), got {list(self.betas)}")
        if self.weight_decay < 0 or self.eps <= 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0 and eps > 0")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}")
        if self.decoder is not None:
            self.decoder_config_changes()
        if self.fusion is not None:
            self.with_fusion_changes(None)
        if self.references is not None and (not isinstance(self.references, str) or not self.references):
            raise ValueError(f"references must name a JSON file, got {self.references!r}")
        return self

    def with_fusion_changes(self, model_config):
        """``model_config`` (a :class:`ModelConfig`) with ``fusion``'s changes applied (itself when
        ``fusion`` is None); with None only checks them. ``ValueError`` for unknown or bad fields."""
        import dataclasses

        from ctrg_desktop.model.config import FusionConfig, ModelConfig

        if self.fusion is None:
            return model_config
        if not isinstance(self.fusion, dict):
            raise ValueError(f"fusion must be an object of fusion settings, got {self.fusion!r}")
        base = model_config.fusion if model_config is not None else FusionConfig()
        data = {**dataclasses.asdict(base), **self.fusion}
        try:
            fusion = ModelConfig.from_dict({"fusion": data}).fusion
        except (ValueError, TypeError) as exc:
            raise ValueError(f"fusion settings: {' '.join(str(exc).split())}") from None
        if model_config is None:
            return None
        return dataclasses.replace(model_config, fusion=fusion)

    def decoder_config_changes(self) -> dict:
        """``decoder`` checked: a dict of known ``DecoderConfig`` fields (``ValueError`` otherwise)."""
        from ctrg_desktop.model.config import DecoderConfig, LLMConfig

        check_fields(self.decoder, DecoderConfig, "decoder", list_known=True)
        if self.decoder.get("llm") is not None:
            check_fields(self.decoder["llm"], LLMConfig, "decoder.llm")
        return self.decoder

    @property
    def learning_rate(self) -> float:
        """``lr``, or the paper's rate for the stage."""
        return float(self.lr) if self.lr is not None else DEFAULT_LR[self.stage]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict, where: str = "train config") -> TrainConfig:
        check_fields(data, cls, where)
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{where}: {exc}") from exc

    @classmethod
    def load(cls, path, **overrides) -> TrainConfig:
        """Read a ``.json`` or ``.toml`` file (``overrides`` replace its fields; None ones are
        ignored); ``ValueError`` naming the file on any problem."""
        data = read_config_file(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data, where=f"train config {path}")

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` applied (None values are ignored), validated."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        return TrainConfig.from_dict(data)


def read_config_file(path) -> dict:
    """The raw table of a ``.json`` / ``.toml`` train config file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"train config {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # JSONDecodeError, TOMLDecodeError
        raise ValueError(f"cannot parse train config {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"train config {path} must hold an object/table, got {type(data).__name__}")
    return data


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
