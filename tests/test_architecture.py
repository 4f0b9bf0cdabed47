"""The core never imports Qt or VTK, and the Qt layer never imports torch: checked statically
(import-linter) and at run time."""

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ctrg_desktop

ROOT = Path(__file__).resolve().parents[1]


#: what the GUI process never loads: the model and segmenter run in worker processes
TORCH_STACK = ("torch", "torchvision", "transformers", "peft", "timm", "segment_anything")


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(ctrg_desktop.__path__, "ctrg_desktop."):
        if not info.name.startswith("ctrg_desktop.app") and info.name != "ctrg_desktop.__main__":
            names.append(info.name)
    return names


def _app_modules() -> list[str]:
    import ctrg_desktop.app

    return [info.name for info in pkgutil.walk_packages(ctrg_desktop.app.__path__, "ctrg_desktop.app.")]


def test_import_linter_contract():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KEPT" in done.stdout and "BROKEN" not in done.stdout


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


def test_importing_the_app_loads_no_torch():
    """Every module of the Qt layer, and the core it uses (the zoo's catalogue, read here too; the
    mask model; the worker loops, whose requests the GUI builds) imports without torch: the
    packages ``model`` and ``segmentation`` load their torch modules on first use only."""
    pytest.importorskip("PySide6")
    modules = _app_modules()
    assert "ctrg_desktop.app.main_window" in modules and "ctrg_desktop.app.wizard.setup_pages" in modules
    modules += ["ctrg_desktop.model", "ctrg_desktop.model.catalogue", "ctrg_desktop.segmentation",
                "ctrg_desktop.segmentation.masks", "ctrg_desktop.workers.drafting", "ctrg_desktop.workers.segmenting"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from ctrg_desktop.model.catalogue import zoo_entries\n"
        "zoo_entries()\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {TORCH_STACK!r})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
