"""An ordered list of overlay layers (drawn bottom to top) with change events."""

from __future__ import annotations

from typing import Iterator

from ctrg_desktop.overlays.events import Event
from ctrg_desktop.overlays.layers import Layer


class LayerList:
    """Layers by position or name. Events (keyword arguments):

    * ``inserted(layer, index)``, ``removed(layer, index)``, ``moved(layer, old, new)``
    * ``layer_changed(layer, what)`` forwarded from every layer's ``changed``
    """

    def __init__(self, shape: tuple[int, int, int] | None = None):
        self.shape = tuple(shape) if shape is not None else None
        self._layers: list[Layer] = []
        self.inserted, self.removed, self.moved, self.layer_changed = Event(), Event(), Event(), Event()

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __contains__(self, item) -> bool:
        return any(layer is item or layer.name == item for layer in self._layers)

    def __getitem__(self, key: int | str) -> Layer:
        return self._layers[self.index(key)] if isinstance(key, str) else self._layers[key]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self._layers]

    def index(self, key: int | str | Layer) -> int:
        if isinstance(key, int):
            return key
        for n, layer in enumerate(self._layers):
            if layer is key or layer.name == key:
                return n
        raise KeyError(f"no overlay layer named {key!r}")

    def add(self, layer: Layer, index: int | None = None) -> Layer:
        """Insert ``layer`` (on top by default); a layer of the same name is replaced."""
        if self.shape is not None and layer.shape is not None and layer.shape != self.shape:
            raise ValueError(f"layer {layer.name!r} has shape {layer.shape}, the volume {self.shape}")
        if layer.name in self:
            old = self.index(layer.name)
            self.remove(layer.name)
            index = old if index is None else index
        index = len(self._layers) if index is None else max(0, min(index, len(self._layers)))
        self._layers.insert(index, layer)
        layer.changed.connect(self._forward)
        self.inserted.emit(layer=layer, index=index)
        return layer

    def remove(self, key: int | str | Layer) -> Layer:
        index = self.index(key)
        layer = self._layers.pop(index)
        layer.changed.disconnect(self._forward)
        self.removed.emit(layer=layer, index=index)
        return layer

    def clear(self) -> None:
        while self._layers:
            self.remove(len(self._layers) - 1)

    def move(self, key: int | str | Layer, new_index: int) -> None:
        old = self.index(key)
        new_index = max(0, min(new_index, len(self._layers) - 1))
        if old == new_index:
            return
        layer = self._layers.pop(old)
        self._layers.insert(new_index, layer)
        self.moved.emit(layer=layer, old=old, new=new_index)

    def set_visible(self, key: int | str | Layer, visible: bool) -> None:
        self[self.index(key)].visible = visible

    def set_opacity(self, key: int | str | Layer, opacity: float) -> None:
        self[self.index(key)].opacity = opacity

    def _forward(self, layer: Layer, what: str) -> None:
        self.layer_changed.emit(layer=layer, what=what)
