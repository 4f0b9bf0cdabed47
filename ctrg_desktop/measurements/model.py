"""Labelled measurements of a study: a line (length in mm) or an ellipse (HU statistics, area).

:class:`Measurement` is one, drawn on one slice of one slice view; :func:`make_measurement`
places it on its slice and computes its values from the volume. :class:`MeasurementSet` holds
a study's measurements in drawing order with default labels ``M1``, ``M2``... (never reused in
a set), renames, edits and deletes them, and tells listeners about each change; its ``state``
names the content (a new token for every new change; an undo puts back the token it had, see
:mod:`.history`) and ``is_modified`` compares it with the last :meth:`MeasurementSet.mark_clean`
(a save), as the mask set does.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.geometry import VIEW_AXES, ellipse_values, in_plane_size, line_length, on_slice

#: kind -> what the lists call it
KINDS = {"line": "Length", "ellipse": "Ellipse ROI"}
MAX_LABEL = 64
_NUMBERED = re.compile(r"^M(\d+)$")


class MeasurementError(CtrgError):
    """A measurement that cannot be made or read (one line for the reader)."""


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass
class Measurement:
    """One measurement: ``points`` (2, 3) LPS mm on slice ``slice`` (0-based) of ``view``;
    ``values``: ``length_mm`` for a line; ``mean``, ``sd``, ``minimum``, ``maximum`` (HU; None
    when no voxel centre is inside), ``area_mm2`` and ``voxels`` for an ellipse."""

    id: str
    label: str
    kind: str
    view: str
    slice: int
    points: np.ndarray = field(repr=False)
    values: dict = field(default_factory=dict)

    @property
    def axis(self) -> int:
        return VIEW_AXES[self.view]

    @property
    def centre(self) -> np.ndarray:
        """The LPS middle of the line or of the ellipse."""
        return np.asarray(self.points, float).reshape(2, 3).mean(axis=0)

    def where(self) -> str:
        """``Axial 58``: the view and the slice number as the view shows it (1-based)."""
        return f"{self.view.capitalize()} {self.slice + 1}"

    def summary(self) -> str:
        """The value(s) in one line: ``45.3 mm`` or ``mean 40.2 HU, SD 12.1, min -3, max 80, area 320.5 mm²``."""
        v = self.values
        if self.kind == "line":
            return f"{v['length_mm']:.1f} mm"
        area = f"area {v['area_mm2']:.1f} mm\u00b2"
        if not v.get("voxels"):
            return f"{area}, no voxel centre inside"
        return (f"mean {v['mean']:.1f} HU, SD {v['sd']:.1f}, min {_number(v['minimum'])}, "
                f"max {_number(v['maximum'])}, {area}")

    def shown_on(self, view: str, index: int, spacing_mm: float, half_thickness_mm: float | None = None) -> bool:
        """Whether the measurement shows on slice ``index`` of ``view``: its own slice, or within
        half a slice (``half_thickness_mm``, default half of ``spacing_mm``) of it."""
        if view != self.view:
            return False
        half = spacing_mm / 2.0 if half_thickness_mm is None else half_thickness_mm
        return abs(int(index) - self.slice) * spacing_mm <= half + 1e-6

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "kind": self.kind, "view": self.view, "slice": int(self.slice),
                "points": [[float(c) for c in p] for p in np.asarray(self.points, float).reshape(2, 3)],
                "values": dict(self.values)}

    @classmethod
    def from_json(cls, data) -> "Measurement":
        """One measurement read back; MeasurementError when a field is missing or wrong."""
        try:
            kind, view = str(data["kind"]), str(data["view"])
            if kind not in KINDS or view not in VIEW_AXES:
                raise ValueError(f"unknown kind {kind!r} or view {view!r}")
            points = np.asarray(data["points"], dtype=float)
            if points.shape != (2, 3) or not np.isfinite(points).all():
                raise ValueError("points must be two finite LPS points")
            values = {str(k): (None if v is None else float(v)) for k, v in dict(data.get("values") or {}).items()}
            if "voxels" in values and values["voxels"] is not None:
                values["voxels"] = int(values["voxels"])
            label = " ".join(str(data.get("label") or "").split())[:MAX_LABEL]
            return cls(str(data.get("id") or uuid.uuid4().hex[:12]), label, kind, view, int(data["slice"]),
                       points, values)
        except (KeyError, TypeError, ValueError) as exc:
            raise MeasurementError(f"a measurement is malformed: {exc}") from exc


def make_measurement(volume, kind: str, view: str, index: int, points, label: str = "") -> Measurement:
    """A ``kind`` measurement drawn between ``points`` (LPS, moved onto slice ``index`` of
    ``view``), its values computed from ``volume``. MeasurementError when it spans less than a
    voxel (a line shorter than the smallest in-plane voxel, an ellipse narrower than one)."""
    if kind not in KINDS or view not in VIEW_AXES:
        raise MeasurementError(f"unknown measurement {kind!r} on view {view!r}")
    axis = VIEW_AXES[view]
    if not 0 <= int(index) < volume.shape[axis]:
        raise MeasurementError(f"slice {int(index) + 1} is outside the {view} view's {volume.shape[axis]} slices")
    placed = on_slice(volume, axis, int(index), points)
    size = in_plane_size(volume, axis, placed)
    if kind == "line":
        if float(np.hypot(*size)) < 1.0:
            raise MeasurementError("the line is shorter than a voxel: drag from one end to the other")
        values = {"length_mm": line_length(placed)}
    else:
        if size.min() < 1.0:
            raise MeasurementError("the ellipse is narrower than a voxel: drag across the region")
        values = ellipse_values(volume, axis, int(index), placed).to_json()
    return Measurement(uuid.uuid4().hex[:12], label, kind, view, int(index), placed, values)


class MeasurementSet:
    """A study's measurements (module docstring). Listeners are called as ``fn(change, measurement)``
    with ``change`` one of ``added``, ``removed``, ``renamed``, ``edited``, ``replaced`` (measurement
    None). ``state=`` of the change methods: the token the set's state takes (an undo's; default a new one)."""

    def __init__(self, shape=None, spacing=None):
        self.shape = tuple(int(n) for n in shape) if shape is not None else None
        self.spacing = tuple(float(s) for s in spacing) if spacing is not None else None
        self._items: list[Measurement] = []
        self._issued = 0    # highest M<n> label handed out
        self._serial = 0    # the current state token
        self._tokens = 0    # last state token handed out
        self._clean = 0
        self._listeners: list = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items))

    def __contains__(self, mid) -> bool:
        return any(m.id == mid for m in self._items)

    @property
    def items(self) -> list[Measurement]:
        return list(self._items)

    def get(self, mid: str) -> Measurement:
        for m in self._items:
            if m.id == mid:
                return m
        raise MeasurementError(f"no measurement {mid!r}")

    def next_label(self) -> str:
        """``M<n>``: one above any numbered label this set has held."""
        numbers = [int(g.group(1)) for g in (_NUMBERED.match(m.label) for m in self._items) if g]
        return f"M{max([self._issued, *numbers]) + 1}"

    # --- changes --------------------------------------------------------------------------
    def index(self, mid: str) -> int:
        return self._items.index(self.get(mid))

    def add(self, measurement: Measurement, index: int | None = None, state: int | None = None) -> Measurement:
        """Append ``measurement`` (or put it at ``index``; an empty label becomes :meth:`next_label`)."""
        self._insert(measurement, index)
        self._changed("added", measurement, state)
        return measurement

    def _insert(self, measurement: Measurement, index: int | None = None) -> None:
        if not measurement.label:
            measurement.label = self.next_label()
        match = _NUMBERED.match(measurement.label)
        if match:
            self._issued = max(self._issued, int(match.group(1)))
        if measurement.id in self:
            measurement.id = uuid.uuid4().hex[:12]
        self._items.insert(len(self._items) if index is None else int(index), measurement)

    def remove(self, mid: str, state: int | None = None) -> Measurement:
        measurement = self.get(mid)
        self._items.remove(measurement)
        self._changed("removed", measurement, state)
        return measurement

    def update(self, measurement: Measurement, state: int | None = None) -> Measurement:
        """Put ``measurement`` in place of the one with its id (moved ends, another label)."""
        self._items[self.index(measurement.id)] = measurement
        self._changed("edited", measurement, state)
        return measurement

    def rename(self, mid: str, label: str) -> Measurement:
        """Give ``mid`` a new label (1 to 64 characters after stripping)."""
        measurement = self.get(mid)
        label = " ".join(str(label).split())
        if not label or len(label) > MAX_LABEL:
            raise MeasurementError(f"a measurement's label needs 1 to {MAX_LABEL} characters")
        if label != measurement.label:
            measurement.label = label
            self._changed("renamed", measurement)
        return measurement

    def replace_all(self, measurements, clean: bool = False) -> list[Measurement]:
        """Put ``measurements`` in place of this set's (a file opened, an autosave restored)."""
        self._items = []
        self._issued = 0
        for m in measurements:
            self._insert(m)
        self._changed("replaced", None)
        if clean:
            self.mark_clean()
        return self.items

    def on_slice(self, view: str, index: int, spacing_mm: float, half_thickness_mm: float | None = None) -> list:
        """The measurements :meth:`Measurement.shown_on` slice ``index`` of ``view``."""
        return [m for m in self._items if m.shown_on(view, index, spacing_mm, half_thickness_mm)]

    # --- saved or not ---------------------------------------------------------------------
    @property
    def state(self) -> int:
        return self._serial

    @property
    def is_modified(self) -> bool:
        return self._serial != self._clean

    def mark_clean(self, state: int | None = None) -> bool:
        """Remember the current state (or ``state``, when it is still current) as saved."""
        if state is not None and state != self._serial:
            return False
        self._clean = self._serial
        return True

    def add_listener(self, fn) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _changed(self, change: str, measurement, state: int | None = None) -> None:
        if state is None:
            self._tokens += 1
            state = self._tokens
        self._serial = int(state)
        for fn in list(self._listeners):
            fn(change, measurement)


def value_rows(measurement: Measurement) -> list[tuple[str, float | None, str]]:
    """``(name, value, unit)`` of each number a measurement reports (exports): the length in mm;
    or the mean, SD, minimum, maximum in HU and the area in mm2 (UCUM unit strings)."""
    v = measurement.values
    if measurement.kind == "line":
        return [("length", float(v["length_mm"]), "mm")]
    hu = [(name, None if v.get(key) is None or math.isnan(v[key]) else float(v[key]), "HU")
          for name, key in (("mean", "mean"), ("standard deviation", "sd"), ("minimum", "minimum"),
                            ("maximum", "maximum"))]
    return hu + [("area", float(v["area_mm2"]), "mm2")]
