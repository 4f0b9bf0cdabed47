"""Named masks on the study grid with undoable edits (pure numpy: no Qt, no torch).

A :class:`MaskSet` holds :class:`Mask` objects (boolean ``[k, j, i]`` arrays on the study grid,
a ``#rrggbb`` colour, an optional report structure and the algorithm that drew them). Every
change that alters what would be exported -- adding, deleting, renaming, assigning, recolouring
and voxel edits (a SAM mask on a slice, a brush stroke, a propagation) -- is one step of the
undo history; visibility and opacity are display state and are not. ``is_modified`` tells
whether the history's current state differs from the last :meth:`MaskSet.mark_clean` (a save).

Slices follow :mod:`ctrg_desktop.segmentation.prompts`: slice ``index`` along ``axis`` is
``np.take(array, index, axis)``, rows and columns the remaining array axes in order.

``changed`` (an :class:`~ctrg_desktop.overlays.events.Event`) reports
``changed.emit(mask=..., what=...)`` with ``what`` in ``added``, ``removed``, ``data``, ``name``,
``structure``, ``colour``, ``visible``, ``opacity``. Brush shapes on a slice:
:mod:`ctrg_desktop.segmentation.brush`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.overlays.events import Event

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
#: colours of new masks that are not tied to a structure, in turn
PALETTE = ("#00e5ff", "#ff4081", "#76ff03", "#ffab00", "#d500f9", "#1de9b6", "#ff3d00", "#2979ff")
#: what a mask drawn with a segmenter records as its algorithm
SAM_ALGORITHM = "LiteMedSAM"


class MaskError(CtrgError):
    """A mask operation that cannot be done (unknown or duplicate name, wrong shape...)."""


@dataclass(eq=False)
class Mask:
    """One mask; change it through its :class:`MaskSet` so edits can be undone."""

    name: str
    array: np.ndarray = field(repr=False)   #: bool [k, j, i], C-contiguous (edited in place)
    colour: str = PALETTE[0]
    structure: str | None = None
    algorithm: str | None = SAM_ALGORITHM
    visible: bool = True
    opacity: float = 0.5

    @property
    def voxels(self) -> int:
        return int(np.count_nonzero(self.array))

    def slices_used(self, axis: int) -> np.ndarray:
        """Indices of the slices along ``axis`` that hold mask voxels."""
        other = tuple(a for a in range(3) if a != int(axis))
        return np.flatnonzero(self.array.any(axis=other))

    def rgb(self) -> tuple[float, float, float]:
        return tuple(int(self.colour[n:n + 2], 16) / 255.0 for n in (1, 3, 5))


def slice_view(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The writable 2D view of slice ``index`` along ``axis`` (rows, cols as in ``np.take``)."""
    if int(axis) not in (0, 1, 2):
        raise MaskError(f"axis is 0 (axial), 1 (coronal) or 2 (sagittal), got {axis!r}")
    if not 0 <= int(index) < array.shape[int(axis)]:
        raise MaskError(f"slice {index} is outside the {array.shape[int(axis)]} slices along axis {axis}")
    return np.moveaxis(array, int(axis), 0)[int(index)]


class _Edit:
    """One undo step: ``undo()`` / ``redo()`` and a short text for the Edit menu."""

    def __init__(self, text: str, undo, redo):
        self.text, self.undo, self.redo = text, undo, redo
        self.token = 0  #: names the state this edit leads to (set by MaskSet._record)


class MaskSet:
    """The masks of one study (``shape`` = the study's ``(K, J, I)``), in creation order."""

    def __init__(self, shape, history: int = 50):
        self.shape = tuple(int(n) for n in shape)
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise MaskError(f"a mask set needs a 3D study shape, got {shape}")
        self.history = int(history)
        self.changed = Event()
        self._masks: list[Mask] = []
        self._undo: list[_Edit] = []
        self._redo: list[_Edit] = []
        self._stroke = None  # (mask, axis, index, before) of a slice edit in progress
        self._palette = 0
        self._serial = 0     # last state token issued
        self._base = 0       # token of the state below the oldest undo step
        self._clean = 0      # token of the last saved state

    # --------------------------------------------------------------------------------- lookup
    def __len__(self) -> int:
        return len(self._masks)

    def __iter__(self):
        return iter(list(self._masks))

    def __contains__(self, name) -> bool:
        return any(m.name == name for m in self._masks)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self._masks]

    def get(self, name: str) -> Mask:
        for mask in self._masks:
            if mask.name == name:
                return mask
        raise MaskError(f"no mask named {name!r}" + (f"; there are {', '.join(self.names)}" if self else ""))

    def unique_name(self, base: str) -> str:
        """``base`` or ``base 2``, ``base 3``... whichever is free."""
        base = " ".join(str(base).split()) or "Mask"
        if base not in self:
            return base
        n = 2
        while f"{base} {n}" in self:
            n += 1
        return f"{base} {n}"

    def next_colour(self) -> str:
        colour = PALETTE[self._palette % len(PALETTE)]
        self._palette += 1
        return colour

    # -------------------------------------------------------------------------------- history
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def _record(self, edit: _Edit) -> None:
        self._serial += 1
        edit.token = self._serial
        self._undo.append(edit)
        if len(self._undo) > self.history:
            self._base = self._undo[-self.history - 1].token
            del self._undo[:-self.history]
        self._redo.clear()

    @property
    def state(self) -> int:
        """A token of the current content (equal tokens: the same masks, names and voxels)."""
        return self._undo[-1].token if self._undo else self._base

    @property
    def is_modified(self) -> bool:
        """Changed since the last :meth:`mark_clean` (or since the set was made)."""
        return self.state != self._clean

    def mark_clean(self, state: int | None = None) -> bool:
        """Remember the current state (or ``state``, when it is still current) as saved."""
        if state is not None and state != self.state:
            return False
        self._clean = self.state
        return True

    def undo(self) -> str | None:
        """Undo the last edit; returns its text (None when there is nothing to undo)."""
        self.end_slice_edit()
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.undo()
        self._redo.append(edit)
        return edit.text

    def redo(self) -> str | None:
        self.end_slice_edit()
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.redo()
        self._undo.append(edit)
        return edit.text

    def clear_history(self) -> None:
        """Forget the undo steps; the content counts as a new state (modified unless marked clean)."""
        self._undo.clear()
        self._redo.clear()
        self._serial += 1
        self._base = self._serial

    # ------------------------------------------------------------------------- masks as items
    def add(self, name: str | None = None, *, array=None, colour: str | None = None, structure: str | None = None,
            algorithm: str | None = SAM_ALGORITHM, opacity: float = 0.5) -> Mask:
        """A new mask (empty unless ``array``); ``name`` defaults to a free "Mask N"."""
        if name is None:
            name = self.unique_name(f"Mask {len(self) + 1}")
        name = _check_name(name)
        if name in self:
            raise MaskError(f"a mask named {name!r} exists already; choose another name")
        if array is None:
            array = np.zeros(self.shape, dtype=bool)
        else:
            array = np.ascontiguousarray(array, dtype=bool)
            if array.shape != self.shape:
                raise MaskError(f"mask {name!r} has shape {array.shape}, the study {self.shape}")
        mask = Mask(name, array, _check_colour(colour or self.next_colour()), structure, algorithm,
                    opacity=float(opacity))
        self._insert(mask, len(self._masks))
        self._record(_Edit(f"add mask {name}", lambda: self._take(mask), lambda: self._insert(mask, None)))
        return mask

    def _insert(self, mask: Mask, index) -> None:
        self._masks.insert(len(self._masks) if index is None else index, mask)
        self.changed.emit(mask=mask, what="added")

    def _take(self, mask: Mask) -> int:
        index = self._masks.index(mask)
        self._masks.pop(index)
        self.changed.emit(mask=mask, what="removed")
        return index

    def remove(self, name: str) -> Mask:
        mask = self.get(name)
        self.end_slice_edit()
        index = self._take(mask)
        self._record(_Edit(f"delete mask {mask.name}", lambda: self._insert(mask, index), lambda: self._take(mask)))
        return mask

    def clear(self) -> None:
        """Drop every mask and the history (a new study)."""
        self._stroke = None
        for mask in list(self._masks):
            self._take(mask)
        self.clear_history()
        self.mark_clean()
        self._palette = 0

    def replace_all(self, saved, clean: bool = False) -> list[Mask]:
        """Replace every mask with ``saved`` ones (name, array, colour, structure, algorithm,
        opacity, visible: a restored autosave or a saved file); no undo step. ``clean``: they are
        saved work (else they count as changes)."""
        self.end_slice_edit()
        for mask in list(self._masks):
            self._take(mask)
        made = []
        for item in saved:
            array = np.ascontiguousarray(item.array, dtype=bool)
            if array.shape != self.shape:
                raise MaskError(f"mask {item.name!r} has shape {array.shape}, the study {self.shape}")
            name = self.unique_name(_check_name(item.name))
            colour = item.colour if isinstance(item.colour, str) and _HEX.match(item.colour) else self.next_colour()
            mask = Mask(name, array, colour.lower(), item.structure, item.algorithm,
                        bool(getattr(item, "visible", True)), float(getattr(item, "opacity", 0.5)))
            self._insert(mask, None)
            made.append(mask)
        self.clear_history()
        if clean:
            self.mark_clean()
        return made

    def _set_attr(self, mask: Mask, attr: str, value, what: str, text: str) -> None:
        old = getattr(mask, attr)
        if old == value:
            return

        def put(v):
            setattr(mask, attr, v)
            self.changed.emit(mask=mask, what=what)

        put(value)
        self._record(_Edit(text, lambda: put(old), lambda: put(value)))

    def rename(self, name: str, new_name: str) -> Mask:
        mask = self.get(name)
        new_name = _check_name(new_name)
        if new_name != name and new_name in self:
            raise MaskError(f"a mask named {new_name!r} exists already; choose another name")
        self._set_attr(mask, "name", new_name, "name", f"rename mask {name} to {new_name}")
        return mask

    def assign(self, name: str, structure: str | None) -> Mask:
        """Tie mask ``name`` to a report structure (None: to none)."""
        mask = self.get(name)
        structure = None if structure is None or not str(structure).strip() else str(structure).strip()
        self._set_attr(mask, "structure", structure, "structure",
                       f"assign mask {name} to {structure or 'no structure'}")
        return mask

    def set_colour(self, name: str, colour: str) -> Mask:
        mask = self.get(name)
        self._set_attr(mask, "colour", _check_colour(colour), "colour", f"recolour mask {name}")
        return mask

    def set_visible(self, name: str, visible: bool) -> None:
        mask = self.get(name)
        if mask.visible != bool(visible):
            mask.visible = bool(visible)
            self.changed.emit(mask=mask, what="visible")

    def set_opacity(self, name: str, opacity: float) -> None:
        mask, opacity = self.get(name), float(opacity)
        if not 0.0 <= opacity <= 1.0:
            raise MaskError(f"opacity is 0..1, got {opacity}")
        if mask.opacity != opacity:
            mask.opacity = opacity
            self.changed.emit(mask=mask, what="opacity")

    # ---------------------------------------------------------------------------- voxel edits
    def _region_edit(self, mask: Mask, region: tuple, before: np.ndarray, after: np.ndarray, text: str) -> None:
        def put(values):
            mask.array[region] = values
            self.changed.emit(mask=mask, what="data")

        self._record(_Edit(text, lambda: put(before), lambda: put(after)))

    def set_slice(self, name: str, axis: int, index: int, mask2d, mode: str = "replace",
                  text: str | None = None) -> int:
        """Write a 2D mask into slice ``index`` along ``axis``: ``replace`` the slice, ``add`` to it
        or ``subtract`` from it (one undo step). Returns how many voxels changed."""
        mask = self.get(name)
        self.end_slice_edit()
        plane = slice_view(mask.array, axis, index)
        new = np.asarray(mask2d, dtype=bool)
        if new.shape != plane.shape:
            raise MaskError(f"the 2D mask is {new.shape} but slice {index} along axis {axis} is {plane.shape}")
        if mode == "add":
            new = plane | new
        elif mode == "subtract":
            new = plane & ~new
        elif mode != "replace":
            raise MaskError(f"mode is replace, add or subtract, got {mode!r}")
        changed = int(np.count_nonzero(plane != new))
        if changed:
            region = _slice_region(axis, index)
            before = plane.copy()
            plane[...] = new
            self._region_edit(mask, region, before, new.copy(), text or f"edit mask {name} (slice {index})")
            self.changed.emit(mask=mask, what="data")
        return changed

    def set_volume(self, name: str, array3d, mode: str = "add", text: str | None = None) -> int:
        """Write a 3D mask (``add``, ``replace`` or ``subtract``); the undo step keeps only the
        bounding box of the changed voxels. Returns how many voxels changed."""
        mask = self.get(name)
        self.end_slice_edit()
        new = np.asarray(array3d, dtype=bool)
        if new.shape != self.shape:
            raise MaskError(f"the 3D mask is {new.shape}, the study {self.shape}")
        if mode == "add":
            diff = new & ~mask.array
        elif mode == "subtract":
            diff = new & mask.array
        elif mode == "replace":
            diff = new != mask.array
        else:
            raise MaskError(f"mode is replace, add or subtract, got {mode!r}")
        region = _bounding_region(diff)
        if region is None:
            return 0
        changed = int(np.count_nonzero(diff[region]))
        before = mask.array[region].copy()
        after = before ^ diff[region]
        mask.array[region] = after
        self._region_edit(mask, region, before, after, text or f"edit mask {name}")
        self.changed.emit(mask=mask, what="data")
        return changed

    def begin_slice_edit(self, name: str, axis: int, index: int) -> np.ndarray:
        """Start a free-hand edit (a brush stroke): returns the slice's writable 2D view; draw into
        it, emit :meth:`touched` to show progress, and :meth:`end_slice_edit` to make it one undo step."""
        self.end_slice_edit()
        mask = self.get(name)
        plane = slice_view(mask.array, axis, index)
        self._stroke = (mask, int(axis), int(index), plane.copy())
        return plane

    def touched(self) -> None:
        """The slice being edited changed (``changed`` with ``what="data"``)."""
        if self._stroke is not None:
            self.changed.emit(mask=self._stroke[0], what="data")

    def end_slice_edit(self, text: str | None = None) -> int:
        """Finish the edit begun by :meth:`begin_slice_edit`; returns how many voxels it changed."""
        if self._stroke is None:
            return 0
        mask, axis, index, before = self._stroke
        self._stroke = None
        if mask not in self._masks:
            return 0
        after = slice_view(mask.array, axis, index).copy()
        changed = int(np.count_nonzero(after != before))
        if changed:
            self._region_edit(mask, _slice_region(axis, index), before, after,
                              text or f"paint mask {mask.name} (slice {index})")
            self.changed.emit(mask=mask, what="data")
        return changed

    @property
    def editing(self) -> bool:
        return self._stroke is not None

    # --------------------------------------------------------------------------------- export
    def specs(self) -> list:
        """Every non-empty mask as a :class:`ctrg_desktop.export.MaskSpec` (a copy of its array)."""
        from ctrg_desktop.export.masks import MaskSpec

        return [MaskSpec(m.name, m.array.copy(), m.colour.lower(), m.structure, m.algorithm)
                for m in self._masks if m.array.any()]


def _slice_region(axis: int, index: int) -> tuple:
    return (slice(None),) * int(axis) + (int(index),)


def _bounding_region(diff: np.ndarray) -> tuple | None:
    if not diff.any():
        return None
    region = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        used = np.flatnonzero(diff.any(axis=other))
        region.append(slice(int(used[0]), int(used[-1]) + 1))
    return tuple(region)


def _check_name(name) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise MaskError("a mask needs a name")
    if len(name) > 64:
        raise MaskError(f"a mask name has at most 64 characters, got {len(name)}")
    return name


def _check_colour(colour) -> str:
    if not isinstance(colour, str) or not _HEX.match(colour):
        raise MaskError(f"a mask colour is #rrggbb, got {colour!r}")
    return colour.lower()
