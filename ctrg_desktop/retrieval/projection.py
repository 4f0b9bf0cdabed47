"""A trained retriever's projection applied in numpy: 18 observation logits -> embedding -> distances.

``embed``: x = (logits - mean) / std; h = relu(x W1 + b1); v = h W2 + b2; then ``expmap0_c(v)``
into the Poincaré ball (kind ``"poincare"``, distance :func:`~.hyperbolic.distances_to_many`) or
v / |v| (kind ``"cosine"``, distance 1 - cos). The arrays come from
:func:`ctrg_desktop.retrieval.retriever.train_retriever` (torch); no torch is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctrg_desktop.retrieval import hyperbolic
from ctrg_desktop.retrieval.arrays_file import load_arrays, save_arrays
from ctrg_desktop.retrieval.status import N_LABELS

KINDS = ("poincare", "cosine")
ARRAY_NAMES = ("mean", "std", "w1", "b1", "w2", "b2")
RETRIEVER_FORMAT = "ctrg-retriever"
_CHUNK = 8192


@dataclass
class Projection:
    """The retriever's projection: ``kind`` (poincare|cosine), curvature ``c``, arrays (ARRAY_NAMES)."""

    kind: str
    curvature: float
    arrays: dict = field(repr=False)
    meta: dict = field(default_factory=dict, repr=False)  #: model id, training config and log

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"retriever kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.curvature > 0:
            raise ValueError(f"curvature must be > 0, got {self.curvature}")
        missing = [k for k in ARRAY_NAMES if k not in self.arrays]
        if missing:
            raise ValueError(f"projection arrays missing: {', '.join(missing)}")
        self.arrays = {k: np.asarray(self.arrays[k], dtype=np.float32) for k in ARRAY_NAMES}
        a = self.arrays
        if (a["w1"].shape[0] != N_LABELS or a["w2"].shape[0] != a["w1"].shape[1]
                or a["b1"].shape != (a["w1"].shape[1],) or a["b2"].shape != (a["w2"].shape[1],)
                or a["mean"].shape != (N_LABELS,) or a["std"].shape != (N_LABELS,)):
            raise ValueError("projection arrays have inconsistent shapes: "
                             + ", ".join(f"{k} {a[k].shape}" for k in ARRAY_NAMES))

    @property
    def dim(self) -> int:
        return int(self.arrays["w2"].shape[1])

    def embed(self, logits) -> np.ndarray:
        """(B, dim) float32 embeddings of (B, 18) logits ((18,) gives (dim,))."""
        x = np.asarray(logits, dtype=np.float32)
        if x.shape[-1:] != (N_LABELS,) or x.ndim not in (1, 2):
            raise ValueError(f"logits must have shape (18,) or (B, 18), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("logits contain NaN or infinity")
        if x.ndim == 2 and len(x) > _CHUNK:  # bounded memory for large indexes: (chunk, hidden) at a time
            return np.concatenate([self.embed(x[i:i + _CHUNK]) for i in range(0, len(x), _CHUNK)])
        a = self.arrays
        h = np.maximum((x - a["mean"]) / a["std"] @ a["w1"] + a["b1"], 0.0)
        v = h @ a["w2"] + a["b2"]
        if self.kind == "poincare":
            return hyperbolic.expmap0(v, self.curvature).astype(np.float32)
        return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

    def distances(self, queries, references, ref_sq=None) -> np.ndarray:
        """(B, R) distances of embedded ``queries`` (B, dim) to embedded ``references`` (R, dim)."""
        return self.to_distance(self.rank_scores(queries, references, ref_sq))

    def rank_scores(self, queries, references, ref_sq=None) -> np.ndarray:
        """(B, R) scores in the order of the distances, cheaper (poincare: |(-q) ⊕ y|²; cosine:
        1 - q.y of the unit ``references`` :meth:`embed` gives); :meth:`to_distance` converts them."""
        if self.kind == "poincare":
            return hyperbolic.squared_mobius_norms(queries, references, self.curvature, ref_sq=ref_sq)
        q = np.atleast_2d(np.asarray(queries, dtype=references.dtype))
        q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
        out = 1.0 - (q @ references.T).astype(np.float64)
        return out[0] if np.ndim(queries) == 1 else out

    def to_distance(self, scores) -> np.ndarray:
        """Distances of :meth:`rank_scores`."""
        if self.kind == "poincare":
            return hyperbolic.distance_of_squared_norm(scores, self.curvature)
        return np.asarray(scores, dtype=np.float64)

    def header(self) -> dict:
        return {"kind": self.kind, "curvature": float(self.curvature), "dim": self.dim, **self.meta}

    def save(self, path) -> Path:
        """Write the projection as a retriever weights file (``ctrg retrieval train --out``)."""
        return save_arrays(path, {"format": RETRIEVER_FORMAT, "version": 1, "retriever": self.header()},
                           self.arrays)

    @classmethod
    def from_header(cls, header: dict, arrays: dict, prefix: str = "") -> "Projection":
        meta = {k: v for k, v in header.items() if k not in ("kind", "curvature", "dim")}
        return cls(header["kind"], float(header["curvature"]),
                   {k: arrays[prefix + k] for k in ARRAY_NAMES if prefix + k in arrays}, meta)

    @classmethod
    def load(cls, path) -> "Projection":
        """A retriever weights file written by :meth:`save`."""
        header, arrays = load_arrays(path, RETRIEVER_FORMAT)
        return cls.from_header(header["retriever"], arrays)


def logits_from_probabilities(probabilities, eps: float = 1e-6) -> np.ndarray:
    """Logits (..., 18) float32 of observation probabilities (a draft's ``observations``, rounded
    to 4 decimals there), clipped to [eps, 1 - eps]: how the GUI queries an index without the model."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p)).astype(np.float32)
