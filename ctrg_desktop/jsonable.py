"""Plain JSON values from results holding numpy scalars, tuples and non-finite floats."""

from __future__ import annotations

import math

import numpy as np


def jsonable(value):
    """``value`` with dict keys as strings, tuples as lists, numpy scalars as Python numbers,
    NaN/inf as None and any other object as its ``str``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, str) or value is None:
        return value
    return str(value)
