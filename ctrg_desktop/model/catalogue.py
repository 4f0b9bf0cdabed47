"""The model zoo's catalogue (no torch): where the zoos are, which models they hold, each one's
card, config summary and what keeps it from loading.

A zoo entry is a folder with ``config.json``; it is looked up in the bundled zoo
(:func:`ctrg_desktop.resources.model_zoo_dir`, ``CTRG_MODEL_ZOO`` overrides it), then in the
user's (``user_data_dir()/"models"``); a name in both is the bundled one, and hidden folders
(a registration's versions) are the zoo's own. ``ctrg models``, the training wizard and the
Report > Model menu all list the zoo with :func:`zoo_entries`; loading, registering and counting
parameters are :mod:`ctrg_desktop.model.zoo`'s (torch).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ctrg_desktop.model.config import ModelConfig
from ctrg_desktop.resources import model_zoo_dir, user_data_dir

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "card.md"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
#: A zoo name: 1-64 letters, digits, '.', '_', '-', not starting with '.' or '-' (no path parts;
#: the zoo's hidden entries are its own).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def zoo_dirs() -> list[tuple[str, Path]]:
    """``[("bundled", model_zoo_dir()), ("user", user_data_dir()/"models")]`` in lookup order."""
    return [("bundled", model_zoo_dir()), ("user", user_data_dir() / "models")]


def zoo_folders() -> list[tuple[str, str, Path]]:
    """(name, source, folder) of every folder with a ``config.json`` in the zoos; the first zoo wins."""
    out, seen = [], set()
    for source, zoo in zoo_dirs():
        if not zoo.is_dir():
            continue
        for folder in sorted(p for p in zoo.iterdir()
                             if not p.name.startswith(".") and p.is_dir() and (p / CONFIG_NAME).is_file()):
            if folder.name not in seen:
                seen.add(folder.name)
                out.append((folder.name, source, folder))
    return out


def known_names() -> list[str]:
    return sorted(name for name, _, _ in zoo_folders())


def pickles(folder: Path) -> list[str]:
    """Names of the pickle checkpoints in ``folder`` (refused, never read)."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(PICKLE_SUFFIXES))


def read_card(folder: Path) -> tuple[str, str]:
    """(title, summary) of ``folder/card.md``: the first heading and the first text line after it."""
    path = Path(folder) / CARD_NAME
    if not path.is_file():
        return "", ""
    title, summary = "", ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not title:
                title = line.lstrip("#").strip()
            continue
        summary = line.lstrip("-* ").strip()
        break
    return title, summary


@dataclass
class ModelEntry:
    """One model of the zoo, read from its folder (config, card, file sizes) without loading it."""

    name: str
    source: str                 #: "bundled" or "user"
    folder: str
    title: str                  #: the card's first heading ('' without a card)
    summary: str                #: the card's first paragraph or bullet line
    parameters: int | None      #: counted by ``ctrg models`` (model.zoo.list_models); None here
    has_weights: bool
    weights_mb: float | None
    tokenizer: str | None
    structure_set: str | None
    input_shape: list[int] | None
    spacing: list[float] | None
    problem: str = ""           #: why the model cannot be loaded ('' when it can)
    decoder: str = ""           #: "bert" or "llm" ('' when the config is unreadable)

    @property
    def usable(self) -> bool:
        return not self.problem

    def to_dict(self) -> dict:
        return asdict(self)


def read_entry(name: str, source: str, folder: Path) -> ModelEntry:
    """The catalogue entry of one model folder: its card, its config's summary, and a problem for
    an unreadable config, missing weights or a pickle checkpoint in their place."""
    title, summary = read_card(folder)
    weights = folder / WEIGHTS_NAME
    entry = ModelEntry(name=name, source=source, folder=str(folder), title=title, summary=summary, parameters=None,
                       has_weights=weights.is_file(),
                       weights_mb=round(weights.stat().st_size / 2**20, 1) if weights.is_file() else None,
                       tokenizer=None, structure_set=None, input_shape=None, spacing=None)
    try:
        config = ModelConfig.load(folder / CONFIG_NAME)
    except (ValueError, TypeError) as exc:
        entry.problem = " ".join(str(exc).split())
        return entry
    entry.tokenizer, entry.structure_set = config.decoder.tokenizer, config.structure_set
    entry.input_shape, entry.spacing = list(config.encoder.input_shape), list(config.encoder.spacing)
    entry.decoder = config.decoder.kind
    if not entry.has_weights:
        found = pickles(folder)
        entry.problem = (f"pickle checkpoint {found[0]} refused (safetensors only)" if found
                         else f"no {WEIGHTS_NAME}")
    return entry


def zoo_entries() -> list[ModelEntry]:
    """Every model folder of the bundled and the user zoo, by name (the bundled one wins a clash)."""
    return sorted((read_entry(name, source, folder) for name, source, folder in zoo_folders()),
                  key=lambda e: e.name)
