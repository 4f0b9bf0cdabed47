"""The model zoo: resolve a model name to a folder, load a model, count its parameters (torch).

A model folder holds ``config.json`` (the :class:`ModelConfig`, which names its tokenizer and
the preprocessing it was trained with), ``model.safetensors`` (the weights), ``card.md``
(data, training command, metrics, limits) and optionally ``observation_guide.json`` (``ctrg calibrate``);
with an LLM decoder the weights are the visual part, the LoRA adapter and the projector, and the
config names the base LLM and its SHA-256 (checked on load).

Where the parts live: names -> folders and the safetensors-only rule,
:mod:`~ctrg_desktop.model.zoo_folder` (no torch); the zoo's listing, :mod:`~ctrg_desktop.model.catalogue`
(no torch); building checked against the weights' header, :mod:`~ctrg_desktop.model.weights_fit`;
registering, :mod:`~ctrg_desktop.model.zoo_register`. Their public names are re-exported here.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ctrg_desktop.devices import resolve_device
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.model.catalogue import (CONFIG_NAME, WEIGHTS_NAME, ModelEntry, known_names,
                                          zoo_dirs, zoo_entries)
from ctrg_desktop.model.weights_fit import build_for_weights, check_weights_fit, without_text_init
from ctrg_desktop.model.zoo_folder import (ModelZooError, PickleCheckpointError,
                                           check_safetensors, resolve_model_folder)
from ctrg_desktop.model.zoo_register import check_model_name, register_model
from ctrg_desktop.reports.observation_guide import load_guide
from ctrg_desktop.retrieval.index import INDEX_NAME

__all__ = ["ModelEntry", "ModelInfo", "ModelZooError", "PickleCheckpointError", "build_for_weights",
           "check_model_name", "check_safetensors", "check_weights_fit", "config_hash", "count_parameters",
           "known_names", "list_models", "load_model", "register_model", "resolve_device", "resolve_model_folder",
           "shared_tokenizer", "zoo_dirs"]

# ------------------------------------------------------------------------------------------ counting

@functools.lru_cache(maxsize=4)
def shared_tokenizer(name: str):
    """The decoder tokenizer of a model (local files only), loaded once per process."""
    from ctrg_desktop.model.text_encoder import load_tokenizer

    return load_tokenizer(name)


def count_parameters(config) -> int:
    """Trainable + frozen parameters (tied ones once) of a model built from ``config``, on the meta device.

    An LLM decoder counts its base model, LoRA and projector (the base's config is read, not its weights)."""
    import dataclasses

    import torch

    from ctrg_desktop.model.config import DecoderConfig
    from ctrg_desktop.model.report_model import StructureReportModel

    llm_total = 0
    if config.decoder.kind == "llm":
        from ctrg_desktop.model.llm_parameters import count_parameters as count_llm

        llm_total, _ = count_llm(config.decoder, config.observer.dim)
        config = dataclasses.replace(config, decoder=DecoderConfig())  # counted without its (BERT) decoder below
    with torch.device("meta"):
        model = StructureReportModel(without_text_init(config), tokenizer=shared_tokenizer(config.decoder.tokenizer))
    total = sum(p.numel() for p in model.parameters())
    if llm_total:
        total += llm_total - sum(p.numel() for p in model.decoder.parameters())
    return total


def _with_parameters(entry: ModelEntry) -> ModelEntry:
    """``entry`` with its parameter count (the model built on the meta device); a count that fails
    becomes its problem. An entry whose config is unreadable stays as the catalogue made it."""
    from ctrg_desktop.model.config import ModelConfig

    try:
        config = ModelConfig.load(Path(entry.folder) / CONFIG_NAME)
    except (ValueError, TypeError):
        return entry
    try:
        entry.parameters = count_parameters(config)
    except (ValueError, OSError, CtrgError) as exc:
        entry.problem = " ".join(str(exc).split())
    return entry


def list_models() -> list[ModelEntry]:
    """The catalogue's :func:`~ctrg_desktop.model.catalogue.zoo_entries` with parameter counts (``ctrg models``)."""
    return [_with_parameters(entry) for entry in zoo_entries()]


# ------------------------------------------------------------------------------------------ loading

@dataclass
class ModelInfo:
    """Where a loaded model came from; ``model.zoo_info`` after :func:`load_model`."""

    name: str
    folder: str
    version: str          #: first 12 hex digits of the weights file's SHA-256
    config_hash: str      #: first 12 hex digits of the SHA-1 of the canonical config JSON

    def to_dict(self) -> dict:
        return asdict(self)


def config_hash(config) -> str:
    return hashlib.sha1(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def load_model(name_or_folder, device="cpu", tokenizer=None):
    """The model of a zoo name or folder, on ``device``, in eval mode, with ``model.zoo_info``.

    Built without the decoder's MiniLM initialisation (the checkpoint overwrites every weight)
    and with a shared tokenizer; ``ValueError`` when the weights do not fit the config. A model
    with an LLM decoder holds only its adapter and projector: its base model (named with its
    SHA-256 in the config) must be installed, :class:`~ctrg_desktop.model.llm_base.BaseModelError`
    (a ``CtrgError``) when it is missing or different.
    """
    folder = resolve_model_folder(name_or_folder, need_weights=True)
    for attempt in range(3):
        version = folder.resolve()  # a registered entry is a link to a complete version folder
        try:
            return _load_folder(name_or_folder, folder, version, device, tokenizer)
        except (OSError, ValueError, CtrgError):
            if attempt == 2 or folder.resolve() == version:
                raise
            # re-registered while being read (its old version is gone): read the new one


def _load_folder(name_or_folder, folder: Path, version: Path, device, tokenizer):
    from ctrg_desktop.model.config import ModelConfig

    weights = version / WEIGHTS_NAME
    check_safetensors(weights)
    dev = resolve_device(device)
    config = ModelConfig.load(version / CONFIG_NAME)
    if tokenizer is None and config.decoder.kind == "bert":  # an LLM decoder brings its base's tokenizer
        tokenizer = shared_tokenizer(config.decoder.tokenizer)
    model = build_for_weights(config, weights, tokenizer)
    model.config, model.decoder.config = config, config.decoder  # the saved config, checked by load_weights
    model.load_weights(version, map_location="cpu")
    model = model.to(dev).eval()
    name = str(name_or_folder) if not Path(str(name_or_folder)).expanduser().exists() else folder.name
    model.zoo_info = ModelInfo(name=name, folder=str(folder), version=file_sha256(weights)[:12],
                               config_hash=config_hash(config))
    model.observation_guide = load_guide(version)
    model.reference_index_path = version / INDEX_NAME if (version / INDEX_NAME).is_file() else None
    return model
