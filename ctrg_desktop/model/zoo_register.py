"""Registering a trained model into a zoo: a hidden version folder, then one atomic switch (torch).

:data:`COPIED_FILES` are the optional files of a model folder that travel with it into the zoo
(the loader reads them from the version folder: :func:`ctrg_desktop.model.zoo.load_model`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from pathlib import Path

from ctrg_desktop.model.catalogue import CARD_NAME, CONFIG_NAME, NAME_RE, WEIGHTS_NAME, zoo_dirs
from ctrg_desktop.model.checkpoint import load_weights_file
from ctrg_desktop.model.zoo_folder import ModelZooError, check_safetensors, resolve_model_folder
from ctrg_desktop.reports.observation_guide import GUIDE_NAME
from ctrg_desktop.retrieval.index import INDEX_NAME

LOCK_NAME = ".lock"
#: optional files copied beside the weights, config and card when present in the source folder
COPIED_FILES = (GUIDE_NAME, INDEX_NAME)


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
    check_safetensors(source / WEIGHTS_NAME)
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
            for extra in COPIED_FILES:
                if (source / extra).is_file():
                    shutil.copy2(source / extra, version / extra)
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
