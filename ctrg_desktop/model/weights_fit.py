"""A model built for a weights file, checked against the file's header before its tensors are made (torch)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ctrg_desktop.model.catalogue import CONFIG_NAME
from ctrg_desktop.model.checkpoint import read_weights_header
from ctrg_desktop.model.zoo_folder import ModelZooError


def without_text_init(config):
    """The config with ``init_from_text_encoder`` off: every weight comes from the checkpoint anyway."""
    import dataclasses

    return dataclasses.replace(config, decoder=dataclasses.replace(config.decoder, init_from_text_encoder=False))


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
    config = without_text_init(config)
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
