"""Locations of the project's data folders (``resources/``, ``model_zoo/``) and the user's folders."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ctrg-desktop"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def resources_dir() -> Path:
    """The bundled ``resources/`` folder (structure sets, presets, icons)."""
    return Path(os.environ.get("CTRG_RESOURCES", PROJECT_ROOT / "resources"))


def model_zoo_dir() -> Path:
    """The bundled ``model_zoo/`` folder."""
    return Path(os.environ.get("CTRG_MODEL_ZOO", PROJECT_ROOT / "model_zoo"))


def user_data_dir() -> Path:
    """Per-user data folder (demo study, corrections dataset); ``CTRG_DATA_DIR`` overrides it."""
    override = os.environ.get("CTRG_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """Per-user cache folder (downloaded packages); ``CTRG_CACHE_DIR`` overrides it."""
    override = os.environ.get("CTRG_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
