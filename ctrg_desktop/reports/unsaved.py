"""What work would be lost (report edits, mask and measurement changes not saved) and the scripted
answer to the save / discard / cancel question (``CTRG_UNSAVED``), so the GUI only shows the question."""

from __future__ import annotations

import os
from dataclasses import dataclass

ANSWER_ENV = "CTRG_UNSAVED"
ANSWERS = ("save", "discard", "cancel")


def unsaved_answer() -> str:
    """``CTRG_UNSAVED`` as ``save``, ``discard`` or ``cancel``; ``ask`` when unset or anything else."""
    value = os.environ.get(ANSWER_ENV, "").strip().lower()
    return value if value in ANSWERS else "ask"


@dataclass(frozen=True)
class UnsavedWork:
    """``report``: the report has edits not saved or accepted; ``masks``: the names of the masks
    when the mask set has changes not saved; ``measurements``: the labels of the measurements
    when they have changes not saved."""

    report: bool = False
    masks: tuple[str, ...] = ()
    measurements: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.report or bool(self.masks) or bool(self.measurements)

    def describe(self) -> str:
        """One sentence for the question, e.g. "The report has edits and 2 masks (lung, Mask 2)
        have changes that were not saved."."""
        parts = []
        if self.report:
            parts.append("the report has edits")
        if self.masks:
            shown = ", ".join(self.masks[:4]) + (", ..." if len(self.masks) > 4 else "")
            noun = "mask" if len(self.masks) == 1 else "masks"
            verb = "has" if len(self.masks) == 1 else "have"
            parts.append(f"{len(self.masks)} {noun} ({shown}) {verb} changes")
        if self.measurements:
            shown = ", ".join(self.measurements[:4]) + (", ..." if len(self.measurements) > 4 else "")
            noun, verb = ("measurement", "has") if len(self.measurements) == 1 else ("measurements", "have")
            parts.append(f"{len(self.measurements)} {noun} ({shown}) {verb} changes")
        if not parts:
            return "Nothing is unsaved."
        text = " and ".join(parts) + " that were not saved."
        return text[0].upper() + text[1:]


def unsaved_work(document=None, masks=None, measurements=None) -> UnsavedWork:
    """The unsaved part of a report ``document`` (``is_modified``), a mask set (``is_modified``,
    iterable of masks with ``name`` and ``array``: only non-empty masks count) and a measurement
    set (``is_modified``, iterable of measurements with ``label``)."""
    report = document is not None and bool(document.is_modified)
    names: tuple[str, ...] = ()
    if masks is not None and masks.is_modified:
        names = tuple(m.name for m in masks if m.array.any())
    labels: tuple[str, ...] = ()
    if measurements is not None and measurements.is_modified:
        labels = tuple(m.label for m in measurements)
    return UnsavedWork(report, names, labels)
