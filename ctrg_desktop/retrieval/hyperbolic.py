"""Poincaré-ball arithmetic in numpy (curvature ``-c``, ball radius ``1/sqrt(c)``).

Möbius addition  x ⊕_c y = ((1 + 2c<x,y> + c|y|²) x + (1 - c|x|²) y) / (1 + 2c<x,y> + c²|x|²|y|²),
distance         d_c(x, y) = (2/√c) artanh(√c |(-x) ⊕_c y|),
exponential map  exp0_c(v) = tanh(√c |v|) v / (√c |v|).
Vectors lie along the last axis; leading axes broadcast. The torch twin used in training is
:mod:`ctrg_desktop.retrieval.hyperbolic_torch`.
"""

from __future__ import annotations

import numpy as np

BALL_EPS = 1e-5  #: points are kept at most (1 - BALL_EPS)/sqrt(c) from the origin


def _check_c(c: float) -> float:
    c = float(c)
    if not c > 0:
        raise ValueError(f"curvature c must be > 0, got {c}")
    return c


def mobius_add(x, y, c: float = 1.0) -> np.ndarray:
    """x ⊕_c y for (..., d) arrays (broadcast)."""
    c = _check_c(c)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xy = np.sum(x * y, axis=-1, keepdims=True)
    x2 = np.sum(x * x, axis=-1, keepdims=True)
    y2 = np.sum(y * y, axis=-1, keepdims=True)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    return num / np.maximum(1 + 2 * c * xy + c * c * x2 * y2, 1e-15)


def project(x, c: float = 1.0, eps: float = BALL_EPS) -> np.ndarray:
    """``x`` (..., d) clipped into the ball: norms above (1 - eps)/√c scaled down to it."""
    c = _check_c(c)
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    limit = (1 - eps) / np.sqrt(c)
    return np.where(norm > limit, x * (limit / np.maximum(norm, 1e-15)), x)


def expmap0(v, c: float = 1.0) -> np.ndarray:
    """The exponential map at the origin of tangent vectors ``v`` (..., d), clipped into the ball."""
    c = _check_c(c)
    v = np.asarray(v, dtype=np.float64)
    norm = np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-15)
    sc = np.sqrt(c)
    return project(np.tanh(sc * norm) * v / (sc * norm), c)


def _artanh_distance(norm, c: float) -> np.ndarray:
    sc = np.sqrt(c)
    return (2 / sc) * np.arctanh(np.clip(sc * norm, 0.0, 1 - 1e-7))


def distance(x, y, c: float = 1.0) -> np.ndarray:
    """d_c(x, y) for (..., d) arrays (broadcast); shape (...)."""
    c = _check_c(c)
    return _artanh_distance(np.linalg.norm(mobius_add(-np.asarray(x, dtype=np.float64), y, c), axis=-1), c)


def squared_norms(points) -> np.ndarray:
    """|p|² of (R, d) points, float64 (R,): precompute once for :func:`distances_to_many`."""
    points = np.asarray(points)
    return np.einsum("ij,ij->i", points, points, dtype=np.float64)


def distances_to_many(queries, references, c: float = 1.0, ref_sq=None) -> np.ndarray:
    """Poincaré distances (B, R) from ``queries`` (B, d) or (d,) to ``references`` (R, d).

    With a = -q: |a ⊕ y|² = (A²|a|² + 2AB<a,y> + B²|y|²) / D², A = 1 + 2c<a,y> + c|y|²,
    B = 1 - c|a|², D = 1 + 2c<a,y> + c²|a|²|y|², so one matrix product <q, y> does it all.
    ``ref_sq``: :func:`squared_norms` of ``references`` (computed when None). A (d,) query gives (R,).
    Computed in float64 (pass float64 ``references`` to avoid a copy per call).
    """
    return distance_of_squared_norm(squared_mobius_norms(queries, references, c, ref_sq), c)


def distance_of_squared_norm(norm_sq, c: float = 1.0) -> np.ndarray:
    """d_c from |(-x) ⊕_c y|² (monotonic: rank by the squared norm, convert only the nearest)."""
    return _artanh_distance(np.sqrt(np.maximum(np.asarray(norm_sq, dtype=np.float64), 0.0)), _check_c(c))


def squared_mobius_norms(queries, references, c: float = 1.0, ref_sq=None) -> np.ndarray:
    """|(-q) ⊕_c y|² (B, R) or (R,) for :func:`distances_to_many` (same arguments)."""
    c = _check_c(c)
    q = np.asarray(queries, dtype=np.float64)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    refs = np.asarray(references, dtype=np.float64)  # float32 loses the distances near the rim
    if q.shape[-1] != refs.shape[-1]:
        raise ValueError(f"queries have {q.shape[-1]} dimensions, references {refs.shape[-1]}")
    y2 = squared_norms(refs) if ref_sq is None else np.asarray(ref_sq, dtype=np.float64)
    a2 = squared_norms(q)[:, None]
    ay = -(q @ refs.T)                                       # <a, y> with a = -q
    cy2 = c * y2[None, :]
    big_a = 1 + 2 * c * ay + cy2
    big_b = 1 - c * a2
    num = big_a * big_a * a2 + 2 * big_a * big_b * ay + big_b * big_b * y2[None, :]
    den = 1 + 2 * c * ay + c * a2 * cy2
    den = np.maximum(den, 1e-15)
    out = np.maximum(num, 0.0) / (den * den)
    return out[0] if single else out


def cosine_distances_to_many(queries, references) -> np.ndarray:
    """1 - cos between ``queries`` (B, d) or (d,) and ``references`` (R, d) (both L2-normalised here)."""
    q = np.asarray(queries, dtype=np.float32)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    refs = np.asarray(references, dtype=np.float32)
    if q.shape[-1] != refs.shape[-1]:
        raise ValueError(f"queries have {q.shape[-1]} dimensions, references {refs.shape[-1]}")
    qn = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    rn = refs / np.maximum(np.linalg.norm(refs, axis=-1, keepdims=True), 1e-12)
    out = (1.0 - qn @ rn.T).astype(np.float64)
    return out[0] if single else out
