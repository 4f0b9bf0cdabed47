"""User settings (window geometry, last folder, recent studies, presets, layout) as JSON.

The folder is ``platformdirs.user_config_dir("ctrg-desktop")``; ``CTRG_CONFIG_DIR`` overrides it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.imaging.display import WINDOW_PRESETS
from ctrg_desktop.resources import APP_NAME

MAX_RECENT = 10
DEFAULTS = {"geometry": "", "state": "", "last_folder": "", "recent": [], "preset": "mediastinum",
            "layout": "2x2", "volume_preset": "soft tissue", "window_presets": {},
            "mouse_drag": {},  # e.g. {"right": "zoom"}: View > Mouse buttons... (app.mouse_settings)
            "slab_mm": 10.0, "cine_fps": 10}  # thick-slab thickness, cine frame rate (ctrg_desktop.app.reading)


def config_dir() -> Path:
    override = os.environ.get("CTRG_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


class Settings:
    """Dictionary-backed settings; ``save()`` writes ``settings.json`` atomically."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else config_dir() / "settings.json"
        self.data = json.loads(json.dumps(DEFAULTS))
        try:
            stored = json.loads(self.path.read_text())
            if isinstance(stored, dict):
                self.data.update({k: v for k, v in stored.items() if k in DEFAULTS})
        except (OSError, ValueError):
            pass  # missing or damaged: defaults

    def __getitem__(self, key: str):
        return self.data[key]

    def __setitem__(self, key: str, value) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        self.data[key] = value

    def save(self) -> None:
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.data, indent=2))

    def add_recent(self, path) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.data["recent"] if p != path]
        self.data["recent"] = [path, *recent][:MAX_RECENT]
        self.data["last_folder"] = str(Path(path).parent if Path(path).is_file() else Path(path).parent)

    def window_presets(self) -> dict[str, tuple[float, float]]:
        """Built-in presets plus the user's (``window_presets`` in the file: name -> [level, width])."""
        presets = dict(WINDOW_PRESETS)
        for name, value in self.data.get("window_presets", {}).items():
            try:
                level, width = (float(v) for v in value)
            except (TypeError, ValueError):
                continue
            if width > 0:
                presets[str(name)] = (level, width)
        return presets

    def save_window_preset(self, name: str, level: float, width: float) -> None:
        self.data["window_presets"][name] = [float(level), float(width)]
