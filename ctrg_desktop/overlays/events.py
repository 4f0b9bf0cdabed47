"""A minimal callback event: ``event.connect(fn)``; ``event.emit(**info)`` calls each listener."""

from __future__ import annotations

from typing import Callable


class Event:
    """Listeners are called in connection order with keyword arguments; no Qt involved."""

    def __init__(self) -> None:
        self._listeners: list[Callable[..., None]] = []

    def connect(self, listener: Callable[..., None]) -> Callable[..., None]:
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def disconnect(self, listener: Callable[..., None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, **info) -> None:
        for listener in list(self._listeners):
            listener(**info)

    def __len__(self) -> int:
        return len(self._listeners)
