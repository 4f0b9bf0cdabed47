"""Checkpoint folders: ``config.json`` (the :class:`ModelConfig`) + ``model.safetensors``.

Loading checks the folder against the model and raises ``ValueError`` naming what differs:
config fields, missing or unexpected tensors, shape mismatches. A damaged weights file (truncated,
header only, bad header, impossible sizes) raises :class:`WeightsFileError` naming the file; a
full disk while writing raises ``OSError(ENOSPC)`` naming the file being written.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.catalogue import CONFIG_NAME, WEIGHTS_NAME


class WeightsFileError(CtrgError, ValueError):
    """A ``model.safetensors`` that cannot be read (damaged, truncated, not safetensors): one line
    naming the file. A ``ValueError`` too, so callers that wrap weight mismatches wrap it alike."""


def _damaged(path, exc: BaseException) -> WeightsFileError:
    reason = " ".join(str(exc).split()).replace("Error while deserializing header: ", "")
    return WeightsFileError(f"{path} is damaged or not a safetensors file ({reason}); "
                            "copy or export the model again")


def read_weights_header(path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of a safetensors file, read from its header only (no tensor data).

    :class:`WeightsFileError` when the file is damaged (checked before a model is built for it)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except SafetensorError as exc:
        raise _damaged(path, exc) from None


def load_weights_file(path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """``safetensors.torch.load_file`` with a damaged file as :class:`WeightsFileError`."""
    try:
        return load_file(str(path), device=str(device))
    except SafetensorError as exc:
        raise _damaged(path, exc) from None


def _disk_full(exc: BaseException, path: Path) -> bool:
    """Whether a failed write ran out of space: torch.save and safetensors report it as a
    RuntimeError / SafetensorError, sometimes without the errno."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    text = str(exc).lower()
    if "no space left" in text or "os error 28" in text or "storagefull" in text:
        return True
    try:
        return shutil.disk_usage(Path(path).parent).free < (1 << 20)
    except OSError:
        return False


@contextmanager
def writing(path):
    """Run a write of ``path``; a full disk becomes ``OSError(ENOSPC, ..., path)`` (one line in the CLI)."""
    try:
        yield
    except Exception as exc:
        if _disk_full(exc, Path(path)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise


def unique_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without second names of shared tensors (tied embeddings), contiguous."""
    seen, out = set(), {}
    for name, tensor in module.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            out[name] = tensor.contiguous()
    return out


def save_checkpoint(model: nn.Module, folder) -> None:
    """Write ``model.config`` and its weights into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with writing(folder / CONFIG_NAME):
        model.config.save(folder / CONFIG_NAME)
    with writing(folder / WEIGHTS_NAME):
        save_file(unique_state(model), str(folder / WEIGHTS_NAME), metadata={"format": "pt"})


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def config_differences(saved: dict, current: dict) -> list[str]:
    """'field: checkpoint X vs model Y' for every differing (nested) config field."""
    a, b = _flatten(saved), _flatten(current)
    return [f"{k}: checkpoint {a.get(k, '<absent>')!r} vs model {b.get(k, '<absent>')!r}"
            for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]


def weight_differences(saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """Missing, unexpected and shape-mismatched tensor names."""
    problems = [f"missing tensor {k}" for k in sorted(set(expected) - set(saved))]
    problems += [f"unexpected tensor {k}" for k in sorted(set(saved) - set(expected))]
    problems += [f"{k}: checkpoint shape {tuple(saved[k].shape)} vs model {tuple(expected[k].shape)}"
                 for k in sorted(set(saved) & set(expected)) if saved[k].shape != expected[k].shape]
    return problems


def with_defaults(config_type, saved: dict) -> dict:
    """``saved`` (a config dict) with the fields it lacks -- added to the config after it was
    written -- at their defaults; as it is when ``config_type.from_dict`` refuses it."""
    try:
        return config_type.from_dict(saved).to_dict()
    except (ValueError, TypeError, AttributeError):
        return saved


def _without(names, exclude: tuple[str, ...]):
    return {k: v for k, v in names.items() if not any(k == p or k.startswith(p + ".") for p in exclude)}


def load_checkpoint(model: nn.Module, folder, map_location="cpu", exclude: tuple[str, ...] = ()) -> None:
    """Load ``folder``'s weights into ``model`` after checking config and tensor shapes.

    ``exclude``: top-level names (config sections and tensor prefixes, e.g. ``"decoder"``) that are
    neither compared nor loaded. Only what ``model.state_dict()`` holds is expected (an LLM
    decoder's state is its adapter and projector, the base comes from the base model)."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not weights_path.is_file():
        raise ValueError(f"no {WEIGHTS_NAME} in {folder}")
    if config_path.is_file():
        try:
            saved_config = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{config_path} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise ValueError(f"{config_path} is not a model config (nested too deeply)") from None
        saved_config = with_defaults(type(model.config), saved_config)
        diffs = config_differences(_without(saved_config, exclude), _without(model.config.to_dict(), exclude))
        if diffs:
            raise ValueError(f"checkpoint {folder} was saved with a different config:\n  "
                             + "\n  ".join(diffs))
    state = _without(load_weights_file(weights_path, device=str(map_location)), exclude)
    problems = weight_differences(state, _without(unique_state(model), exclude))
    if problems:
        raise ValueError(f"checkpoint {folder} does not fit the model:\n  " + "\n  ".join(problems[:20]))
    model.load_state_dict(state, strict=False)
