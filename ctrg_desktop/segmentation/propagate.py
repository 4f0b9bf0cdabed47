"""Grow a 2D mask into 3D: segment neighbouring slices, each prompted from the previous slice's mask.

From ``start_index`` the slices are visited outwards in both directions, one slice of each in
turn (the mask grows on both sides at once, so a reader who stops it early has a mask centred on
where it started); slice ``n`` is prompted with the bounding box of slice ``n -/+ 1``'s mask
grown by ``margin`` pixels (and, with ``use_points``, that mask's deepest pixel as a positive
point). The new mask keeps only the parts that touch the previous mask. SAM outlines *something*
in any box, so past the structure's end it keeps finding neighbours; a direction therefore ends
at the first slice whose mask

* is smaller than ``min_area`` pixels or than ``min_fraction`` of the previous mask,
* overlaps the previous mask by an IoU under ``min_overlap``,
* is unstable (SAM's stability score under ``min_stability``: the outline moves with the threshold),
* or has a median HU more than ``max_hu_shift`` from the start mask's (the box slid onto another tissue),

and after ``max_slices`` slices. That slice is not included.

The image encoder is the slow part (about a second a slice on a CPU core) and an embedding does
not depend on the previous slice's mask, only the prompt does; with ``ahead`` > 0 (and a
``study_key``, so embeddings go through the segmenter's cache) background threads embed the next
slices in visiting order while the current one is decoded and sent, and the loop picks them up
from the cache. A direction that ends stops its slices from being embedded further.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.segmentation.prompts import interior_point, mask_box, take_slice


class PropagationCancelled(CtrgError):
    """The ``cancel`` callback stopped a propagation; ``mask`` holds the slices done so far."""

    def __init__(self, message: str, mask: np.ndarray):
        super().__init__(message)
        self.mask = mask


def _overlapping(mask: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` that touch ``previous`` (grown by one pixel)."""
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask if count and (mask & ndimage.binary_dilation(previous)).any() else np.zeros_like(mask)
    touching = np.unique(labels[ndimage.binary_dilation(previous) & mask])
    touching = touching[touching > 0]
    return np.isin(labels, touching)


def _ends(mask, previous, image, stability, reference_hu, min_area, min_fraction, min_overlap, min_stability,
          max_hu_shift) -> bool:
    """True when ``mask`` shows the structure has ended (module docstring)."""
    area = int(mask.sum())
    if area < max(1, int(min_area)) or area < min_fraction * previous.sum():
        return True
    if (mask & previous).sum() / (mask | previous).sum() < min_overlap or stability < min_stability:
        return True
    return max_hu_shift is not None and abs(float(np.median(image[mask])) - reference_hu) > max_hu_shift


def visiting_order(start_index: int, steps: dict[int, int]) -> list[tuple[int, int]]:
    """``(direction, step)`` in the order a propagation visits them: step 1 of every direction,
    then step 2, ...; ``steps[direction]`` is how many slices that direction may add."""
    longest = max([0, *steps.values()])
    return [(d, step) for step in range(1, longest + 1) for d in steps if step <= steps[d]]


class _Visits:
    """The visiting order shared by the propagation loop and the threads embedding ahead of it."""

    def __init__(self, order: list[tuple[int, int]]):
        self.order = list(order)
        self.position = 0                 #: entries the loop has taken
        self.claimed = 0                  #: entries taken by the loop or an embedding thread
        self.stopped: set[int] = set()
        self.closed = False
        self.cond = threading.Condition()

    def next(self) -> tuple[int, int] | None:
        """The loop's next ``(direction, step)`` (None at the end)."""
        with self.cond:
            while self.position < len(self.order):
                item = self.order[self.position]
                self.position += 1
                self.claimed = max(self.claimed, self.position)
                self.cond.notify_all()
                if item[0] not in self.stopped:
                    return item
            return None

    def stop(self, direction: int) -> None:
        """``direction`` ended: its entries nobody has taken yet are dropped."""
        with self.cond:
            self.stopped.add(direction)
            self.order[self.claimed:] = [e for e in self.order[self.claimed:] if e[0] != direction]
            self.cond.notify_all()

    def claim(self, ahead: int) -> tuple[int, int] | None:
        """An embedding thread's next entry, at most ``ahead`` entries past the loop (waits); None: stop."""
        with self.cond:
            while True:
                if self.closed:
                    return None
                if self.claimed < len(self.order) and self.claimed < self.position + ahead:
                    item = self.order[self.claimed]
                    self.claimed += 1
                    if item[0] in self.stopped:
                        continue
                    return item
                if self.claimed >= len(self.order):
                    return None
                self.cond.wait()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def propagate(volume_array, axis: int, start_index: int, start_mask, segmenter, *, window=None,
              study_key=None, max_slices: int = 64, min_area: int = 10, min_fraction: float = 0.2,
              min_overlap: float = 0.5, min_stability: float = 0.5, max_hu_shift: float | None = 150.0,
              margin: float = 2.0, use_points: bool = False, directions=(1, -1),
              progress: Callable[[int, int], None] | None = None,
              cancel: Callable[[], bool] | None = None,
              on_slice: Callable[[int, np.ndarray], None] | None = None,
              ahead: int = 0, ahead_threads: int = 1) -> np.ndarray:
    """A 3D bool mask (the volume's shape) grown from ``start_mask`` on slice ``start_index``.

    ``volume_array``: the ``[k, j, i]`` HU array (or a Volume); ``axis``: 0 axial, 1 coronal,
    2 sagittal; ``start_mask``: the 2D mask on the start slice (its pixels, see
    :mod:`ctrg_desktop.segmentation.prompts`). With ``study_key`` embeddings go through the
    segmenter's cache (a re-run, or a worker that pre-filled it, costs no re-embedding).
    ``max_slices``: at most this many slices per direction; the stopping thresholds are in the
    module docstring (``max_hu_shift=None`` turns the HU check off). ``progress(done, planned)``
    after each slice visited; ``on_slice(index, mask2d)`` after each slice added to the mask (a
    preview as it grows); ``cancel()`` returning True raises :class:`PropagationCancelled` (with
    the mask so far). ``ahead``: embed up to this many slices ahead of the one being decoded, in
    ``ahead_threads`` background threads (needs ``study_key``; the result is the same).
    """
    volume = np.asarray(getattr(volume_array, "array", volume_array))
    first = take_slice(volume, axis, start_index)
    start = np.asarray(start_mask, dtype=bool)
    if start.shape != first.shape:
        raise CtrgError(f"the start mask is {start.shape} but slice {start_index} along axis {axis} is {first.shape}")
    if not start.any():
        raise CtrgError("the start mask is empty: nothing to propagate")
    out = np.zeros(volume.shape, dtype=bool)
    view = np.moveaxis(out, axis, 0)  # view[n] is slice n in (rows, cols) order
    view[start_index] = start
    count = volume.shape[axis]
    steps = {d: max(0, min(int(max_slices), count - 1 - start_index if d > 0 else start_index)) for d in directions}
    planned, done = sum(steps.values()), 0
    reference_hu = float(np.median(first[start]))
    previous = {d: start for d in directions}
    visits = _Visits(visiting_order(start_index, steps))
    threads = []
    if ahead > 0 and study_key is not None:
        def embed_ahead():
            while (item := visits.claim(int(ahead))) is not None:
                index = start_index + item[0] * item[1]
                try:
                    segmenter.embed(np.take(volume, index, axis=axis), window, key=(study_key, axis, index))
                except Exception:  # noqa: BLE001 -- the loop embeds the slice itself and reports the error
                    pass

        threads = [threading.Thread(target=embed_ahead, name=f"ctrg-embed-ahead-{n}", daemon=True)
                   for n in range(max(1, int(ahead_threads)))]
        for thread in threads:
            thread.start()
    try:
        while (item := visits.next()) is not None:
            direction, step = item
            if cancel is not None and cancel():
                raise PropagationCancelled("mask propagation cancelled", out)
            index = start_index + direction * step
            image = np.take(volume, index, axis=axis)
            key = None if study_key is None else (study_key, axis, index)
            embedding = segmenter.embed(image, window, key=key)
            box = mask_box(previous[direction], margin)
            points = []
            if use_points:
                point = interior_point(previous[direction])
                points = [(point[0], point[1], True)]
            prediction = segmenter.predict_scored(embedding, points=points, box=box)
            mask = _overlapping(prediction.mask, previous[direction])
            done += 1
            ended = _ends(mask, previous[direction], image, prediction.stability, reference_hu, min_area,
                          min_fraction, min_overlap, min_stability, max_hu_shift)
            if ended:
                planned -= steps[direction] - step
                visits.stop(direction)
            if progress is not None:
                progress(done, planned)
            if ended:
                continue
            view[index] = mask
            previous[direction] = mask
            if on_slice is not None:
                on_slice(index, mask)
    finally:
        visits.close()  # the embedding threads stop after the slice they are on (not waited for)
    return out

