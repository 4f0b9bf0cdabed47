"""Named colour maps as (256, 3) float tables in 0..1, built from a few anchor colours (pure numpy)."""

from __future__ import annotations

import numpy as np

_ANCHORS = {
    "hot": [(0, 0, 0), (0.9, 0, 0), (1, 0.8, 0), (1, 1, 1)],
    "jet": [(0, 0, 0.5), (0, 0, 1), (0, 1, 1), (1, 1, 0), (1, 0, 0), (0.5, 0, 0)],
    "viridis": [(0.267, 0.005, 0.329), (0.229, 0.322, 0.546), (0.128, 0.567, 0.551),
                (0.369, 0.789, 0.383), (0.993, 0.906, 0.144)],
    "inferno": [(0.001, 0.0, 0.014), (0.341, 0.062, 0.429), (0.735, 0.216, 0.330),
                (0.978, 0.557, 0.035), (0.988, 1.0, 0.644)],
    "reds": [(1, 0.9, 0.9), (1, 0, 0)],
}

COLORMAPS = tuple(_ANCHORS)


def single_hue(colour: str) -> list[tuple[float, float, float]] | None:
    """Anchors of a one-colour map for ``"#rrggbb"``: a dark shade, the colour, a light tint
    (``None`` for anything else)."""
    text = str(colour)
    if len(text) != 7 or text[0] != "#":
        return None
    try:
        rgb = np.array([int(text[n:n + 2], 16) / 255.0 for n in (1, 3, 5)])
    except ValueError:
        return None
    return [tuple(0.45 * rgb), tuple(rgb), tuple(rgb + 0.55 * (1.0 - rgb))]


def hex_to_rgb(colour: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` -> RGB in 0..1 (grey for anything else)."""
    text = str(colour).lstrip("#")
    if len(text) != 6:
        return (0.7, 0.7, 0.7)
    try:
        return tuple(int(text[n:n + 2], 16) / 255.0 for n in (0, 2, 4))
    except ValueError:
        return (0.7, 0.7, 0.7)


def colormap_table(name: str, n: int = 256) -> np.ndarray:
    """``(n, 3)`` RGB values in 0..1 for ``name``: one of :data:`COLORMAPS`, or ``"#rrggbb"``
    for a single-hue map of that colour (one colour per structure)."""
    anchors = _ANCHORS.get(name) or single_hue(name)
    if anchors is None:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)} or #rrggbb")
    anchors = np.asarray(anchors, dtype=np.float64)
    x = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(t, x, anchors[:, c]) for c in range(3)], axis=1)


def label_colour(label: int) -> tuple[float, float, float]:
    """A stable, distinct RGB colour (0..1) for an integer label (golden-angle hues)."""
    hue = (label * 0.618033988749895) % 1.0
    h6 = hue * 6.0
    i, f = int(h6) % 6, h6 - int(h6)
    v, s = 0.95, 0.75
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
