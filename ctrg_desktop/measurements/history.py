"""Undo / redo of a study's measurements: every add, delete, rename and edit is one step.

:class:`MeasurementHistory` makes the changes on a
:class:`~ctrg_desktop.measurements.model.MeasurementSet` and keeps, for each, the measurement
before and after (copies) and the set's state token before and after, so an undo puts back
the measurement where it was in the list and the state the set had (back at the saved state,
the set is not modified). Each step carries ``clock``, a number that grows with every new step
(the window compares it with the masks' steps to know which Ctrl+Z undoes). A new change
clears the redo steps; at most ``limit`` steps are kept.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

from ctrg_desktop.measurements.model import KINDS, Measurement, MeasurementSet

_CLOCK = itertools.count(1)


def tick() -> int:
    """The next value of the clock shared by every history in the process (orders steps)."""
    return next(_CLOCK)


@dataclass
class Step:
    """One change: ``before`` / ``after`` are ``(index, copy)`` or None (added / deleted)."""

    text: str
    before: tuple[int, Measurement] | None
    after: tuple[int, Measurement] | None
    state_before: int
    state_after: int
    clock: int


def _snapshot(measurements: MeasurementSet, mid: str) -> tuple[int, Measurement]:
    return measurements.index(mid), copy.deepcopy(measurements.get(mid))


class MeasurementHistory:
    """The undo and redo steps of one :class:`MeasurementSet`; ``steps_changed()`` callbacks run
    after every step, undo and redo (``listeners``)."""

    def __init__(self, measurements: MeasurementSet, limit: int = 100):
        self.measurements = measurements
        self.limit = int(limit)
        self.undo_steps: list[Step] = []
        self.redo_steps: list[Step] = []
        self.listeners: list = []

    # --- changes, one step each ------------------------------------------------------------
    def add(self, measurement: Measurement) -> Measurement:
        before = self.measurements.state
        self.measurements.add(measurement)
        self._record(f"add {measurement.label}", None, _snapshot(self.measurements, measurement.id), before)
        return measurement

    def remove(self, mid: str) -> Measurement:
        before, state = _snapshot(self.measurements, mid), self.measurements.state
        removed = self.measurements.remove(mid)
        self._record(f"delete {removed.label}", before, None, state)
        return removed

    def rename(self, mid: str, label: str) -> Measurement:
        before, state = _snapshot(self.measurements, mid), self.measurements.state
        renamed = self.measurements.rename(mid, label)
        if renamed.label != before[1].label:
            self._record(f"rename {before[1].label} to {renamed.label}", before,
                         _snapshot(self.measurements, mid), state)
        return renamed

    def edit(self, measurement: Measurement) -> Measurement:
        """Put ``measurement`` (moved ends or box, values recomputed) in place of its id's."""
        before, state = _snapshot(self.measurements, measurement.id), self.measurements.state
        self.measurements.update(measurement)
        self._record(f"edit {measurement.label} ({KINDS[measurement.kind].lower()})", before,
                     _snapshot(self.measurements, measurement.id), state)
        return measurement

    def _record(self, text: str, before, after, state_before: int) -> None:
        self.undo_steps.append(Step(text, before, after, state_before, self.measurements.state, tick()))
        del self.undo_steps[:-self.limit]
        self.redo_steps.clear()
        self._notify()

    # --- undo / redo ------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self.undo_steps)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_steps)

    @property
    def undo_text(self) -> str:
        return self.undo_steps[-1].text if self.undo_steps else ""

    @property
    def redo_text(self) -> str:
        return self.redo_steps[-1].text if self.redo_steps else ""

    def undo(self) -> str | None:
        """Undo the last step; its text (None when there is none)."""
        if not self.undo_steps:
            return None
        step = self.undo_steps.pop()
        self._put(step.after, step.before, step.state_before)
        self.redo_steps.append(step)
        self._notify()
        return step.text

    def redo(self) -> str | None:
        if not self.redo_steps:
            return None
        step = self.redo_steps.pop()
        self._put(step.before, step.after, step.state_after)
        self.undo_steps.append(step)
        self._notify()
        return step.text

    def clear(self) -> None:
        """Forget every step (another set of measurements was loaded)."""
        self.undo_steps.clear()
        self.redo_steps.clear()
        self._notify()

    def _put(self, now, wanted, state: int) -> None:
        """Go from snapshot ``now`` to ``wanted`` (either may be None) with the set's ``state``."""
        measurements = self.measurements
        if wanted is None:
            measurements.remove(now[1].id, state=state)
        elif now is None:
            measurements.add(copy.deepcopy(wanted[1]), wanted[0], state=state)
        else:
            measurements.update(copy.deepcopy(wanted[1]), state=state)

    def _notify(self) -> None:
        for fn in list(self.listeners):
            fn()
