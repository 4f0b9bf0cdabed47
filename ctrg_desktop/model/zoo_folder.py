"""A model name or folder resolved to a model folder, and its weights file checked (no torch).

Names resolve, in order, to: an existing folder path; a folder of the bundled zoo
(:func:`ctrg_desktop.resources.model_zoo_dir`, ``CTRG_MODEL_ZOO`` overrides it); a folder of the
user's zoo (``user_data_dir()/"models"``). Weights are read from safetensors only: pickle
checkpoints (``.pt``, ``.pth``, ``.bin``, ``.ckpt``, ``.pkl``) can run code when loaded and are
refused, never unpickled.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.catalogue import (CONFIG_NAME, PICKLE_SUFFIXES, WEIGHTS_NAME, known_names, pickles, zoo_dirs,
                                          zoo_folders)


class ModelZooError(CtrgError):
    """A model name or folder that cannot be resolved or loaded (one readable line)."""


class PickleCheckpointError(ModelZooError):
    """A pickle checkpoint where safetensors weights are needed: refused, never unpickled."""


def pickle_message(what: str) -> str:
    return (f"{what} is a pickle checkpoint, which can run code when loaded: ctrg reads safetensors weights "
            f"only ({WEIGHTS_NAME}); convert it with a PyTorch you trust (safetensors.torch.save_file of its "
            f"state dict) and put config.json beside it")


def _unknown_name_message(name: str) -> str:
    names = known_names()
    where = ", ".join(f"{source} {zoo}" for source, zoo in zoo_dirs())
    known = f"the model zoo has: {', '.join(names)}" if names else "the model zoo is empty"
    return f"no model {name!r}: not a folder and not in the model zoo; {known} ({where})"


def resolve_model_folder(name_or_folder, need_weights: bool = False) -> Path:
    """A model folder from a folder path or a zoo name (module docstring); ``ModelZooError`` otherwise.

    The folder must hold ``config.json``; with ``need_weights`` also ``model.safetensors``
    (a pickle checkpoint in its place raises :class:`PickleCheckpointError`).
    """
    path = Path(name_or_folder).expanduser()
    if path.is_file():
        if path.name.lower().endswith(PICKLE_SUFFIXES):
            raise PickleCheckpointError(pickle_message(str(path)))
        if path.name in (CONFIG_NAME, WEIGHTS_NAME):
            path = path.parent
        else:
            raise ModelZooError(f"{path} is a file; give a model folder (config.json + {WEIGHTS_NAME}) "
                                f"or a model-zoo name")
    if path.is_dir():
        folder = path
    else:
        found = {name: folder for name, _, folder in zoo_folders()}
        folder = found.get(str(name_or_folder))
        if folder is None:
            for _, zoo in zoo_dirs():  # a zoo folder without config.json: say so below
                if str(name_or_folder) and (zoo / str(name_or_folder)).is_dir() and "/" not in str(name_or_folder):
                    folder = zoo / str(name_or_folder)
                    break
        if folder is None:
            raise ModelZooError(_unknown_name_message(str(name_or_folder)))
    if not (folder / CONFIG_NAME).is_file():
        found = pickles(folder)
        if found:
            raise PickleCheckpointError(pickle_message(f"{folder / found[0]}") + "; and it has no config.json")
        raise ModelZooError(f"{folder} is not a model folder (no config.json)")
    if need_weights and not (folder / WEIGHTS_NAME).is_file():
        found = pickles(folder)
        if found:
            raise PickleCheckpointError(pickle_message(str(folder / found[0])))
        raise ModelZooError(f"{folder} has no weights ({WEIGHTS_NAME} missing)")
    return folder


def check_safetensors(path: Path) -> None:
    """Refuse a ``model.safetensors`` that is really a pickle/zip (a renamed ``.pt``) before reading it."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise PickleCheckpointError(pickle_message(str(path)) + " (renamed to .safetensors)")
    if len(head) < 9 or struct.unpack("<Q", head[:8])[0] > os.path.getsize(path) or head[8:9] != b"{":
        raise ModelZooError(f"{path} is not a safetensors file")
