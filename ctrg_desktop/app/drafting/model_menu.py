"""The Report menu (draft, cancel, model, device, save report) and File > Open draft; the Model
menu lists the zoo's catalogue (:mod:`ctrg_desktop.model.catalogue`: folders and cards, no torch
in the GUI process); the worker process resolves and loads the chosen name with the zoo itself.
"""

from __future__ import annotations

from PySide6 import QtGui

from ctrg_desktop.model.catalogue import ModelEntry, zoo_entries

DEVICES = (("auto", "&Auto (CUDA when available)"), ("cuda", "&CUDA"), ("cpu", "C&PU"))


def default_model(models: list[ModelEntry]) -> str | None:
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
    models = zoo_entries()
    for model in models:
        text = f"{model.name}  -  {model.title}" if model.title and model.title != model.name else model.name
        act = menu.addAction(text)
        act.setCheckable(True)
        act.setData(model.name)
        act.setEnabled(model.usable)
        act.setToolTip(model.folder if model.usable else model.problem)
        act.setChecked(model.name == drafting.model)
        act.triggered.connect(lambda _=False, name=model.name: drafting.set_model(name))
        group.addAction(act)
    if not models:
        menu.addAction("(the model zoo is empty)").setEnabled(False)
    drafting.model_group = group
