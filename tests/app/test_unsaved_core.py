"""Core pieces of "never lose work" (no Qt): the masks file round trip and its refusals, what
counts as unsaved, and the mask set's saved state through undo and redo."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.reports.mask_file import masks_path_for, pack_masks, read_header, read_masks, write_masks
from ctrg_desktop.reports.unsaved import unsaved_answer, unsaved_work
from ctrg_desktop.segmentation.masks import MaskSet

SHAPE = (6, 7, 9)


def _set() -> MaskSet:
    masks = MaskSet(SHAPE)
    array = np.zeros(SHAPE, bool)
    array[1:4, 2:5, 3:8] = True
    masks.add("lesion", array=array, colour="#81c784", structure="lung")
    masks.add("empty")
    return masks


def test_masks_file_round_trip_and_refusals(tmp_path):
    masks = _set()
    path = write_masks(tmp_path / "a.masks.npz", pack_masks(masks, SHAPE, extra={"label": "s.nii.gz"}))
    header = read_header(path)
    assert header["shape"] == list(SHAPE) and header["extra"] == {"label": "s.nii.gz"}
    [saved] = read_masks(path, SHAPE)  # empty masks are left out
    assert (saved.name, saved.colour, saved.structure, saved.algorithm) == ("lesion", "#81c784", "lung", "LiteMedSAM")
    assert np.array_equal(saved.array, masks.get("lesion").array)
    with pytest.raises(CtrgError, match="open study"):
        read_masks(path, (6, 7, 8))
    (tmp_path / "bad.masks.npz").write_bytes(b"not a zip")
    with pytest.raises(CtrgError, match="cannot read"):
        read_masks(tmp_path / "bad.masks.npz")
    assert masks_path_for(tmp_path / "report.json") == tmp_path / "report.masks.npz"


def test_mask_set_saved_state_follows_undo_redo_and_replace():
    masks = MaskSet(SHAPE, history=3)
    assert not masks.is_modified
    masks.add("a")
    state = masks.state
    assert masks.is_modified and masks.mark_clean() and not masks.is_modified
    masks.set_slice("a", 0, 1, np.ones(SHAPE[1:], bool))
    assert masks.is_modified
    masks.undo()
    assert not masks.is_modified and masks.state == state
    masks.redo()
    assert masks.is_modified and not masks.mark_clean(state)  # a stale state is not marked
    restored = masks.replace_all([SimpleNamespace(name="a", array=masks.get("a").array.copy(), colour="#123456",
                                                  structure=None, algorithm=None, opacity=0.3, visible=False)])
    assert [m.name for m in restored] == ["a"] and masks.is_modified and not masks.can_undo


def test_unsaved_work_and_the_scripted_answer(monkeypatch):
    masks = _set()
    document = SimpleNamespace(is_modified=True)
    work = unsaved_work(document, masks)
    assert work.any and work.masks == ("lesion",)
    assert work.describe() == "The report has edits and 1 mask (lesion) has changes that were not saved."
    masks.mark_clean()
    assert not unsaved_work(SimpleNamespace(is_modified=False), masks).any
    for value, answer in (("Save", "save"), ("discard", "discard"), ("cancel", "cancel"), ("maybe", "ask")):
        monkeypatch.setenv("CTRG_UNSAVED", value)
        assert unsaved_answer() == answer
