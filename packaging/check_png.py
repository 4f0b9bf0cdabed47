"""Is a screenshot blank? ``python packaging/check_png.py FILE.png [--min-fraction F]``.

A PNG passes when it decodes, is at least 200x150 pixels, and more than ``min_fraction`` of its
pixels differ from its most common colour (a window that never painted is one flat colour).
Prints one line; exit code 0 when it passes, 1 when blank, 2 when unreadable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MIN_SIZE = (200, 150)
MIN_FRACTION = 0.05


def content_fraction(path: Path) -> tuple[tuple[int, int], float]:
    """``((width, height), fraction of pixels that differ from the most common colour)``."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    codes = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    background = values[np.argmax(counts)]
    return (rgb.shape[1], rgb.shape[0]), float(np.mean(codes != background))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", type=Path)
    parser.add_argument("--min-fraction", type=float, default=MIN_FRACTION)
    args = parser.parse_args(argv)
    try:
        size, fraction = content_fraction(args.png)
    except (OSError, ValueError) as exc:
        print(f"check_png: error: cannot read {args.png}: {exc}", file=sys.stderr)
        return 2
    ok = size[0] >= MIN_SIZE[0] and size[1] >= MIN_SIZE[1] and fraction > args.min_fraction
    print(f"{args.png}: {size[0]}x{size[1]}, {fraction:.1%} non-background pixels: {'ok' if ok else 'BLANK'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
