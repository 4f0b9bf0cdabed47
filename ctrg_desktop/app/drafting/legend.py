"""A legend in each slice view: the shown structures' names in their colours (top right, under
the measurement text), the focused one bold; the others faded like their dimmed boxes."""

from __future__ import annotations

from ctrg_desktop.app.views.slice_actors import text_actor
from ctrg_desktop.overlays.colormaps import hex_to_rgb

LINE = 0.04  #: normalised viewport height per legend line
TOP = 0.93


class ViewLegend:
    """The legend of one view: one text actor per line, made as needed and reused."""

    def __init__(self, view):
        self.view = view
        self.actors: list = []
        self.entries: list[tuple[str, str, bool]] = []

    def set(self, entries: list[tuple[str, str, bool]]) -> None:
        """``entries``: (name, "#rrggbb", bright) per shown structure, top to bottom."""
        self.entries = list(entries)
        while len(self.actors) < len(entries):
            actor = text_actor(11)
            actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            prop = actor.GetTextProperty()
            prop.SetJustification(2)
            prop.SetVerticalJustification(2)
            prop.SetBackgroundColor(0.05, 0.05, 0.05)
            prop.SetBackgroundOpacity(0.6)
            self.view.renderer.AddViewProp(actor)
            self.actors.append(actor)
        for n, actor in enumerate(self.actors):
            if n >= len(entries):
                actor.SetVisibility(False)
                continue
            name, colour, bright = entries[n]
            actor.SetInput(name)
            actor.SetPosition(0.99, TOP - n * LINE)
            prop = actor.GetTextProperty()
            prop.SetColor(*hex_to_rgb(colour))
            prop.SetBold(bright)
            prop.SetOpacity(1.0 if bright else 0.6)
            actor.SetVisibility(True)
        self.view.request_render()

    def text(self) -> list[str]:
        return [name for name, _, _ in self.entries]
