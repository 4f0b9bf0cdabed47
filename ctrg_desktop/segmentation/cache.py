"""A thread-safe LRU cache of image embeddings keyed by (study, axis, slice index, window).

A worker thread may fill it (:meth:`EmbeddingCache.get_or_compute`) while the GUI thread asks
for the same slice: the second caller waits for the first computation instead of repeating it.
One embedding of the bundled LiteMedSAM (or any SAM) is 256 x 64 x 64 float32 = 4 MiB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, NamedTuple


class SliceKey(NamedTuple):
    """Cache key of one slice's embedding: ``study`` is any hashable id of the study (a path, a UID)."""

    study: Any
    axis: int
    index: int
    window: tuple[float, float]


class EmbeddingCache:
    """Least-recently-used cache holding at most ``max_items`` embeddings; safe across threads."""

    def __init__(self, max_items: int = 48):
        if int(max_items) < 1:
            raise ValueError(f"an embedding cache holds at least 1 item, got {max_items}")
        self.max_items = int(max_items)
        self._items: OrderedDict = OrderedDict()
        self._pending: set = set()
        self._cond = threading.Condition(threading.RLock())
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __contains__(self, key) -> bool:
        with self._cond:
            return key in self._items

    def keys(self) -> list:
        """Keys from least to most recently used."""
        with self._cond:
            return list(self._items)

    def get(self, key, default=None):
        """The cached value (now most recently used) or ``default``; counts a hit or a miss."""
        with self._cond:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return default

    def put(self, key, value) -> None:
        with self._cond:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            self._cond.notify_all()

    def get_or_compute(self, key, compute: Callable[[], Any]):
        """The cached value, else ``compute()`` once (other threads asking meanwhile wait for it)."""
        with self._cond:
            while True:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key]
                if key not in self._pending:
                    self._pending.add(key)
                    self.misses += 1
                    break
                self._cond.wait()
        try:
            value = compute()
        except BaseException:
            with self._cond:
                self._pending.discard(key)
                self._cond.notify_all()
            raise
        with self._cond:
            self._pending.discard(key)
            self.put(key, value)
        return value

    def discard(self, study=None) -> int:
        """Drop every entry (``study=None``) or those of one study; returns how many were dropped."""
        with self._cond:
            drop = [k for k in self._items if study is None or (isinstance(k, tuple) and k and k[0] == study)]
            for k in drop:
                del self._items[k]
            return len(drop)

    def clear(self) -> None:
        self.discard(None)
