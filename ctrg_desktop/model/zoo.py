"""The model zoo: resolve a model name to a folder, load a model, register one (torch).

A model folder holds ``config.json`` (the :class:`ModelConfig`, which names its tokenizer and
the preprocessing it was trained with), ``model.safetensors`` (the weights), ``card.md``
(data, training command, metrics, limits) and optionally ``observation_guide.json`` (``ctrg calibrate``); with an LLM decoder the weights are the visual part,
the LoRA adapter and the projector, and the config names the base LLM and its SHA-256 (checked
on load). Weights are read from safetensors only: pickle
checkpoints (``.pt``, ``.pth``, ``.bin``, ``.ckpt``, ``.pkl``) can run code when loaded and are
refused, never unpickled.

Names resolve, in order, to: an existing folder path; a folder of the bundled zoo
(:func:`ctrg_desktop.resources.model_zoo_dir`, ``CTRG_MODEL_ZOO`` overrides it); a folder of the
user's zoo (``user_data_dir()/"models"``). The zoo's listing, without torch:
:mod:`ctrg_desktop.model.catalogue`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ctrg_desktop.devices import resolve_device
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.model.catalogue import (CARD_NAME, CONFIG_NAME, NAME_RE, PICKLE_SUFFIXES, WEIGHTS_NAME,
                                          ModelEntry, known_names, pickles, zoo_dirs, zoo_entries, zoo_folders)
from ctrg_desktop.model.checkpoint import load_weights_file, read_weights_header
from ctrg_desktop.reports.observation_guide import GUIDE_NAME, load_guide

LOCK_NAME = ".lock"


class ModelZooError(CtrgError):
    """A model name or folder that cannot be resolved or loaded (one readable line)."""


class PickleCheckpointError(ModelZooError):
    """A pickle checkpoint where safetensors weights are needed: refused, never unpickled."""


def _pickle_message(what: str) -> str:
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
            raise PickleCheckpointError(_pickle_message(str(path)))
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
            raise PickleCheckpointError(_pickle_message(f"{folder / found[0]}") + "; and it has no config.json")
        raise ModelZooError(f"{folder} is not a model folder (no config.json)")
    if need_weights and not (folder / WEIGHTS_NAME).is_file():
        found = pickles(folder)
        if found:
            raise PickleCheckpointError(_pickle_message(str(folder / found[0])))
        raise ModelZooError(f"{folder} has no weights ({WEIGHTS_NAME} missing)")
    return folder


# ------------------------------------------------------------------------------------------ counting

@functools.lru_cache(maxsize=4)
def shared_tokenizer(name: str):
    """The decoder tokenizer of a model (local files only), loaded once per process."""
    from ctrg_desktop.model.text_encoder import load_tokenizer

    return load_tokenizer(name)


def _without_text_init(config):
    """The config with ``init_from_text_encoder`` off: every weight comes from the checkpoint anyway."""
    import dataclasses

    return dataclasses.replace(config, decoder=dataclasses.replace(config.decoder, init_from_text_encoder=False))


def count_parameters(config) -> int:
    """Trainable + frozen parameters (tied ones once) of a model built from ``config``, on the meta device.

    An LLM decoder counts its base model, LoRA and projector (the base's config is read, not its weights)."""
    import dataclasses

    import torch

    from ctrg_desktop.model.config import DecoderConfig
    from ctrg_desktop.model.report_model import StructureReportModel

    llm_total = 0
    if config.decoder.kind == "llm":
        from ctrg_desktop.model.llm_decoder import count_parameters as count_llm

        llm_total, _ = count_llm(config.decoder, config.observer.dim)
        config = dataclasses.replace(config, decoder=DecoderConfig())  # counted without its (BERT) decoder below
    with torch.device("meta"):
        model = StructureReportModel(_without_text_init(config), tokenizer=shared_tokenizer(config.decoder.tokenizer))
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


def _check_safetensors(path: Path) -> None:
    """Refuse a ``model.safetensors`` that is really a pickle/zip (a renamed ``.pt``) before reading it."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise PickleCheckpointError(_pickle_message(str(path)) + " (renamed to .safetensors)")
    if len(head) < 9 or struct.unpack("<Q", head[:8])[0] > os.path.getsize(path) or head[8:9] != b"{":
        raise ModelZooError(f"{path} is not a safetensors file")


def load_model(name_or_folder, device="cpu", tokenizer=None):
    """The model of a zoo name or folder, on ``device``, in eval mode, with ``model.zoo_info``.

    Built without the decoder's MiniLM initialisation (the checkpoint overwrites every weight)
    and with a shared tokenizer; ``ValueError`` when the weights do not fit the config. A model
    with an LLM decoder holds only its adapter and projector: its base model (named with its
    SHA-256 in the config) must be installed, :class:`~ctrg_desktop.model.llm_decoder.BaseModelError`
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


#: A model being built for a weights file may create this many times the file's values (tied
#: weights are created twice, then shared; non-persistent buffers and temporaries), plus
#: :data:`_BUILD_SLACK` values, before it is stopped as not fitting the file.
_BUILD_FACTOR = 2
_BUILD_SLACK = 16 << 20


class _TooLarge(Exception):
    pass


#: factory functions whose arguments give the size of what they create
_SIZED_FACTORIES = ("empty", "zeros", "ones", "full", "rand", "randn", "randint", "empty_strided")
#: the other factory functions modules build tensors with (counted once made)
_OTHER_FACTORIES = ("tensor", "as_tensor", "asarray", "arange", "eye", "linspace", "logspace", "randperm",
                    "tril_indices", "triu_indices")


def _declared_size(args, kwargs) -> int | None:
    """Elements a sized factory call (``torch.empty(2, 3)``, ``torch.zeros((2, 3))``,
    ``torch.full(size, v)``, ``torch.randint(lo, hi, size)``) will create; None when not told."""
    import math

    size = kwargs.get("size")
    if size is None:
        size = next((a for a in args if isinstance(a, (tuple, list))), None)
    if size is None and args and all(isinstance(a, int) for a in args):
        size = args
    try:
        return math.prod(int(d) for d in size) if size is not None else None
    except (TypeError, ValueError):
        return None


#: in-place random initialisers, skipped while building a model whose weights come from a file
_RANDOM_FILLS = ("normal_", "uniform_", "random_", "exponential_", "bernoulli_", "cauchy_", "log_normal_",
                 "geometric_")


@contextmanager
def _checked_build(limit: int):
    """Count the elements of the tensors created inside (factory functions: what modules build their
    parameters and buffers with) and raise :class:`_TooLarge` before a call would pass ``limit``;
    random initialisation (``normal_``, ``uniform_``, ...) is skipped: the weights file overwrites
    every tensor it would fill (about half of a CPU build's time)."""
    import torch
    from torch.overrides import TorchFunctionMode

    sized = {getattr(torch, name) for name in _SIZED_FACTORIES}
    factories = sized | {getattr(torch, name) for name in _OTHER_FACTORIES if hasattr(torch, name)}
    fills = {getattr(torch.Tensor, name) for name in _RANDOM_FILLS}

    class Limit(TorchFunctionMode):
        created = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in fills:
                return args[0]
            if func not in factories:
                return func(*args, **kwargs)
            declared = _declared_size(args, kwargs) if func in sized else None
            if declared is not None and self.created + declared > limit:
                raise _TooLarge(self.created + declared)
            out = func(*args, **kwargs)
            self.created += out.numel() if isinstance(out, torch.Tensor) else 0
            if self.created > limit:
                raise _TooLarge(self.created)
            return out

    with Limit():
        yield


def build_for_weights(config, weights: Path, tokenizer=None):
    """The model of ``config``, built after reading the weights file's header (names and shapes, no
    data) and checked against it: a config with sizes the weights do not have fails in a moment,
    with the tensors that differ, instead of allocating them (the build stops once it has created
    about twice the file's values). Its tensors are not randomly initialised: load the file's
    weights into it (every tensor of its state is in the file, or this refuses it). A model with an
    LLM decoder is built as usual, unchecked (its base model is not in the file); its config ranges
    are checked when it is read."""
    import math

    from ctrg_desktop.model.report_model import StructureReportModel

    header = read_weights_header(weights)
    config = _without_text_init(config)
    if config.decoder.kind != "bert":
        return StructureReportModel(config, tokenizer=tokenizer)
    values = sum(math.prod(shape) for shape in header.values())
    try:
        with _checked_build(_BUILD_FACTOR * values + _BUILD_SLACK):
            model = StructureReportModel(config, tokenizer=tokenizer)
    except _TooLarge as exc:
        raise ModelZooError(f"{weights} does not fit its {CONFIG_NAME}: the config's sizes make a model of over "
                            f"{exc.args[0] / 1e6:,.0f} million values, the weights hold {values / 1e6:,.1f} "
                            "million") from None
    check_weights_fit(model, header, weights)
    return model


def check_weights_fit(model, header: dict, weights: Path) -> None:
    """:class:`ModelZooError` unless the weights file's ``header`` (tensor name -> shape) holds every
    tensor of ``model`` with its shape."""
    state_names = set(model.state_dict(keep_vars=True))
    unique = dict(model.named_parameters())
    unique.update(model.named_buffers())
    problems = [f"{k}: weights {header[k]} vs config {tuple(v.shape)}" for k, v in unique.items()
                if k in header and tuple(header[k]) != tuple(v.shape)]
    missing = [k for k in unique if k in state_names and k not in header]
    if missing:
        problems.append(f"{len(missing)} tensor(s) of the config missing from the weights, e.g. {missing[0]}")
    if problems:
        raise ModelZooError(f"{weights} does not fit its {CONFIG_NAME}: " + "; ".join(problems[:3]))


def _load_folder(name_or_folder, folder: Path, version: Path, device, tokenizer):
    from ctrg_desktop.model.config import ModelConfig

    weights = version / WEIGHTS_NAME
    _check_safetensors(weights)
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
    return model


def check_model_name(name) -> str:
    """``name`` when it can name a zoo entry (1-64 letters, digits, '.', '_', '-'; not starting
    with '.' or '-'; no path parts), else :class:`ModelZooError`."""
    name = str(name)
    if not NAME_RE.match(name):
        raise ModelZooError(f"a model name is 1-64 letters, digits, '.', '_' or '-' starting with a letter or "
                            f"digit, got {name!r}")
    return name


def _hidden(name: str, kind: str) -> str:
    return f".{name}.{kind}-{uuid.uuid4().hex}"


def _remove(path: Path) -> None:
    """Delete a hidden entry of the zoo (a version folder, a link, a staging folder)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(zoo: Path, name: str, version: Path) -> None:
    """Make ``zoo/name`` name the complete folder ``version`` in one rename: ``zoo/name`` is a
    symbolic link to it, replaced atomically, so a reader finds the old model or the new one,
    never none. Where links cannot be made (e.g. Windows without the right), the old folder is
    renamed aside and the new one renamed into place (readers may miss the name for that moment)."""
    target = zoo / name
    link = zoo / _hidden(name, "link")
    try:
        os.symlink(version.name, link, target_is_directory=True)
    except (OSError, NotImplementedError):
        link = None
    if link is not None and (target.is_symlink() or not target.exists()):
        os.replace(link, target)
        return
    if link is not None and _exchange(link, target):  # a plain folder (older registrations) -> the link
        return
    trash = zoo / _hidden(name, "trash")
    os.replace(target, trash)
    try:
        os.replace(link if link is not None else version, target)
    except BaseException:
        os.replace(trash, target)  # put the old model back
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def _clean_entry(zoo: Path, name: str) -> None:
    """Remove the hidden leftovers of ``name`` (old versions, links, staging) except its current version."""
    target = zoo / name
    current = target.resolve().name if target.is_symlink() else None
    pattern = re.compile(rf"^\.{re.escape(name)}\.(v|link|trash|tmp)-[0-9a-f]+$")
    for path in zoo.iterdir():
        if pattern.match(path.name) and path.name != current:
            _remove(path)


def register_model(source, name: str, card: str | None = None, zoo: Path | None = None,
                   half: bool = True) -> Path:
    """Copy a trained model folder into a zoo as ``name``; weights stored float16 when ``half``.

    ``source`` holds ``config.json`` + ``model.safetensors`` (e.g. ``ctrg train``'s ``OUT/model``);
    ``card`` replaces its card text. Float16 halves the size (the demo model: 74 -> 37 MB);
    loading casts back to the model's float32. The model is written into a hidden version folder
    beside the entry, then ``zoo/name`` is switched to it in one rename (a reader always finds a
    complete model) and the old version is deleted; writers take the zoo's lock in turn. Nothing
    but ``name``'s own entry is ever replaced or deleted; a folder of that name that is not a
    model is refused.
    """
    from safetensors.torch import save_file

    from ctrg_desktop.corrections.lock import FileLock

    name = check_model_name(name)
    source = resolve_model_folder(source, need_weights=True)
    _check_safetensors(source / WEIGHTS_NAME)
    zoo = Path(zoo) if zoo is not None else zoo_dirs()[1][1]
    target = zoo / name
    state = load_weights_file(source / WEIGHTS_NAME)
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    card_text = card if card is not None else (source / CARD_NAME).read_text() if (source / CARD_NAME).is_file() else ""
    zoo.mkdir(parents=True, exist_ok=True)
    with FileLock(zoo / LOCK_NAME, timeout=600):
        if target.is_symlink() and not target.exists():
            pass  # a dangling link of an interrupted registration: replaced below
        elif target.exists() and not (target.is_dir() and (target / CONFIG_NAME).is_file()):
            raise ModelZooError(f"{target} exists and is not a model folder: not replaced; choose another name")
        version = zoo / _hidden(name, "v")
        try:
            version.mkdir()
            save_file(state, str(version / WEIGHTS_NAME), metadata={"format": "pt"})
            shutil.copy2(source / CONFIG_NAME, version / CONFIG_NAME)
            (version / CARD_NAME).write_text(card_text)
            if (source / GUIDE_NAME).is_file():
                shutil.copy2(source / GUIDE_NAME, version / GUIDE_NAME)
            for path in version.iterdir():
                with open(path, "rb+") as f:
                    os.fsync(f.fileno())
            _swap_into_place(zoo, name, version)
        except BaseException:
            if not (target.is_symlink() and target.resolve() == version.resolve()):
                _remove(version)
            raise
        finally:
            _clean_entry(zoo, name)
    return target
