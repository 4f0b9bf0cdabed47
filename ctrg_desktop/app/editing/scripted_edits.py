"""Scripted report edits: ``CTRG_APPLY_EDITS=edits.json`` makes the app apply a list of edits to
the first report it shows, one per event-loop pass, through the same controller calls as the
mouse and keyboard (tests kill the app afterwards and check that restart restores them all).

Each entry is an object with ``op`` and, addressing sentences by structure name and position::

    {"op": "edit_text", "structure": "lung", "sentence": 0, "text": "..."}
    {"op": "add_sentence", "structure": "pleura", "text": "...", "position": 0}   # position optional
    {"op": "delete_sentence", "structure": "bone", "sentence": 0}
    {"op": "move_sentence", "structure": "lung", "sentence": 2, "position": 0}
    {"op": "move_to_structure", "structure": "lung", "sentence": 1, "to": "others"}
    {"op": "set_keywords", "structure": "thyroid", "keywords": ["thyroid", "goitre"], "reroute": true}
    {"op": "undo"}   {"op": "redo"}
    {"op": "add_mask", "name": "nodule", "structure": "lung", "box": [[k0, k1], [j0, j1], [i0, i1]]}

``add_mask`` adds a mask (the voxels of the box, end exclusive) to the study's masks as a SAM
result would. :func:`apply_edit` applies one report entry to a bare ReportDocument (how tests
compute the expected result). A bad entry prints one line ``ctrg-desktop: error: ...`` and stops the script.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from PySide6 import QtCore

from ctrg_desktop.errors import CtrgError

EDITS_ENV = "CTRG_APPLY_EDITS"
MASK_OPS = ("add_mask",)


def read_edits(path) -> list[dict]:
    try:
        edits = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CtrgError(f"cannot read the edits {path}: {exc}") from exc
    if not isinstance(edits, list) or not all(isinstance(e, dict) and "op" in e for e in edits):
        raise CtrgError(f"{path}: expected a JSON list of objects with an \"op\"")
    return edits


def add_mask(segmentation, edit: dict) -> None:
    """A scripted mask: the box ``[[k0, k1], [j0, j1], [i0, i1]]`` of the study's masks."""
    import numpy as np

    masks = segmentation.masks
    if masks is None:
        raise CtrgError("add_mask needs an open study")
    try:
        box = tuple(slice(int(a), int(b)) for a, b in edit["box"])
        array = np.zeros(masks.shape, bool)
        array[box] = True
        mask = masks.add(edit.get("name"), array=array, structure=edit.get("structure"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CtrgError(f"add_mask needs a box [[k0, k1], [j0, j1], [i0, i1]] ({exc})") from exc
    segmentation.active = mask.name


def apply_edit(document, edit: dict) -> None:
    """Apply one scripted edit to ``document`` (CtrgError when it does not fit)."""
    op = edit["op"]

    def sid() -> str:
        sentences = document.structure(edit["structure"]).sentences
        n = int(edit["sentence"])
        if not 0 <= n < len(sentences):
            raise CtrgError(f"{edit['structure']} has no sentence {n}")
        return sentences[n].id

    try:
        if op == "edit_text":
            document.edit_text(sid(), edit["text"])
        elif op == "add_sentence":
            document.add_sentence(edit["structure"], edit["text"], edit.get("position"))
        elif op == "delete_sentence":
            document.delete_sentence(sid())
        elif op == "move_sentence":
            document.move_sentence(sid(), int(edit["position"]))
        elif op == "move_to_structure":
            document.move_to_structure(sid(), edit["to"], edit.get("position"))
        elif op == "set_keywords":
            document.set_keywords(edit["structure"], edit["keywords"])
            if edit.get("reroute", True):
                document.reroute()
        elif op == "undo":
            document.undo()
        elif op == "redo":
            document.redo()
        else:
            raise CtrgError(f"unknown edit op {op!r}")
    except KeyError as exc:
        raise CtrgError(f"edit {op!r} needs {exc}") from exc


class ScriptedEdits(QtCore.QObject):
    """Applies ``edits`` to the editing controller's first document, one per event-loop pass."""

    done = QtCore.Signal(int)  #: how many were applied

    def __init__(self, controller, edits: list[dict]):
        super().__init__(controller)
        self.controller = controller
        self.edits = list(edits)
        self.applied = 0
        controller.document_set.connect(self._start)

    def _start(self, document) -> None:
        if document is None:
            return
        self.controller.document_set.disconnect(self._start)
        QtCore.QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        document = self.controller.document
        if not self.edits or document is None:
            self.done.emit(self.applied)
            return
        edit = self.edits.pop(0)
        try:
            if edit.get("op") in MASK_OPS:
                add_mask(self.controller.window.segmentation, edit)
            else:
                apply_edit(document, edit)
        except CtrgError as exc:
            print(f"ctrg-desktop: error: scripted edit {self.applied + 1}: {exc}", file=sys.stderr, flush=True)
            self.edits.clear()
        else:
            self.applied += 1
        QtCore.QTimer.singleShot(0, self._next)


def install_from_env(controller) -> ScriptedEdits | None:
    """``CTRG_APPLY_EDITS`` set: read its edits and apply them to the first report shown."""
    path = os.environ.get(EDITS_ENV)
    if not path:
        return None
    try:
        edits = read_edits(path)
    except CtrgError as exc:
        print(f"ctrg-desktop: error: {exc}", file=sys.stderr, flush=True)
        return None
    return ScriptedEdits(controller, edits)
