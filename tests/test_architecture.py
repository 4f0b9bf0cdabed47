"""The core never imports Qt or VTK: checked statically (import-linter) and at run time."""

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import ctrg_desktop

ROOT = Path(__file__).resolve().parents[1]


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(ctrg_desktop.__path__, "ctrg_desktop."):
        if not info.name.startswith("ctrg_desktop.app") and info.name != "ctrg_desktop.__main__":
            names.append(info.name)
    return names


def test_import_linter_contract():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KEPT" in done.stdout


def test_core_imports_load_no_gui_toolkit():
    modules = _core_modules()
    assert "ctrg_desktop.cli" in modules and "ctrg_desktop.io.volume" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'vtk', 'vtkmodules', 'pyqtgraph'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr
