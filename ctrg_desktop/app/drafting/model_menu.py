"""The Report menu (draft, cancel, model, device, save report) and File > Open draft, plus a light
listing of the model zoo that does not import torch into the GUI process.

The listing follows :mod:`ctrg_desktop.model.zoo`'s lookup order (the bundled zoo, then the
user's ``models`` folder; a name found in both is the bundled one) but only reads folders and
cards: the worker process resolves and loads the chosen name with the zoo itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtGui

CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "card.md"
DEVICES = (("auto", "&Auto (CUDA when available)"), ("cuda", "&CUDA"), ("cpu", "C&PU"))


@dataclass
class ZooModel:
    name: str
    folder: Path
    title: str
    usable: bool
    problem: str = ""


def _title(folder: Path) -> str:
    card = folder / CARD_NAME
    if not card.is_file():
        return ""
    for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip().startswith("#"):
            return line.strip().lstrip("#").strip()
    return ""


def zoo_models() -> list[ZooModel]:
    """The models of the bundled and the user zoo, by name."""
    from ctrg_desktop.resources import model_zoo_dir, user_data_dir

    found: dict[str, ZooModel] = {}
    for zoo in (model_zoo_dir(), user_data_dir() / "models"):
        if not zoo.is_dir():
            continue
        for folder in sorted(p for p in zoo.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file()):
            if folder.name in found:
                continue
            usable = (folder / WEIGHTS_NAME).is_file()
            found[folder.name] = ZooModel(folder.name, folder, _title(folder), usable,
                                          "" if usable else f"no {WEIGHTS_NAME}")
    return [found[name] for name in sorted(found)]


def default_model(models: list[ZooModel]) -> str | None:
    """"demo" when the zoo has it, else the first usable model."""
    usable = [m.name for m in models if m.usable]
    return "demo" if "demo" in usable else (usable[0] if usable else None)


def build_report_menu(window, action) -> list[QtGui.QAction]:
    """Add the Report menu to ``window``'s menu bar (``action`` makes a registered action like
    ``window_actions._action``); returns the actions for the help list."""
    drafting = window.drafting
    menu = window.menuBar().addMenu("&Report")
    window.report_menu = menu
    actions = [action(window, menu, "&Draft report", drafting.draft_report, "Ctrl+G"),
               action(window, menu, "&Cancel draft", drafting.cancel)]
    menu.addSeparator()
    drafting.model_menu = menu.addMenu("&Model")
    drafting.model_menu.aboutToShow.connect(lambda: fill_model_menu(drafting))
    fill_model_menu(drafting)
    device_menu = menu.addMenu("De&vice")
    drafting.device_actions = QtGui.QActionGroup(window)
    for key, text in DEVICES:
        act = action(window, device_menu, text, lambda _=False, k=key: drafting.set_device(k), checkable=True)
        act.setData(key)
        act.setChecked(key == drafting.device)
        drafting.device_actions.addAction(act)
        actions.append(act)
    menu.addSeparator()
    actions.append(action(window, menu, "&Save report...", lambda: window.editing.files.choose(), "Ctrl+Shift+G"))
    return actions


def fill_model_menu(drafting) -> None:
    """(Re)list the zoo in the Model menu, the current model checked."""
    menu = drafting.model_menu
    menu.clear()
    group = QtGui.QActionGroup(menu)
    models = zoo_models()
    for model in models:
        text = f"{model.name}  -  {model.title}" if model.title and model.title != model.name else model.name
        act = menu.addAction(text)
        act.setCheckable(True)
        act.setData(model.name)
        act.setEnabled(model.usable)
        act.setToolTip(str(model.folder) if model.usable else model.problem)
        act.setChecked(model.name == drafting.model)
        act.triggered.connect(lambda _=False, name=model.name: drafting.set_model(name))
        group.addAction(act)
    if not models:
        menu.addAction("(the model zoo is empty)").setEnabled(False)
    drafting.model_group = group
