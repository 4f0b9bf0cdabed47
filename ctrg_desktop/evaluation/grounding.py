"""Grounding precision on studies with an anatomy label map (the synthetic phantoms).

For each structure the model keeps its top-K patches (``VisualOutput.topk_indices``); a patch
counts as *inside* the structure when at least ``threshold`` (default 0.5) of its voxels on the
model grid belong to that structure's ground-truth mask. Precision of a structure = inside
patches / top-K patches, pooled over the studies where the structure is present on the model
grid at all. The catch-all "others" structure is excluded. ``chance`` is the precision of K
patches drawn at random (the share of the grid's patches inside the structure), to compare with.

How much of each patch lies in each structure, or in the body, comes from
:mod:`ctrg_desktop.imaging.coverage` (training's mask loss uses the same).

**In-body share** (:func:`in_body_share`): the share of all structures' top-K patches that lie
inside the patient. A patch is inside when more than half of its voxels on the model grid are
body: label > 0 in the study's label map where there is one, else HU > -500 in the model input
(the crop/pad fill of -1024 HU is outside; :mod:`ctrg_desktop.imaging.coverage`).
A model that reads the image keeps its patches in the body; ``chance`` is the body's share of
the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ctrg_desktop.imaging.coverage import BODY_HU

OTHERS = "others"


def grounding_precision(topk_indices, fractions, structure_names: Sequence[str], threshold: float = 0.5,
                        exclude: Sequence[str] = (OTHERS,)) -> dict:
    """Top-K grounding precision per structure and its mean.

    ``topk_indices`` (N, K) or (B, N, K) flat patch indices; ``fractions`` (P, N) or (B, P, N)
    from :func:`ctrg_desktop.imaging.coverage.patch_fractions`. Returns ``{"per_structure":
    {name: precision or None}, "mean": ..., "chance_per_structure": {...}, "chance_mean": ..., "studies": {name: count},
    "threshold": t, "k": K, "n_studies": B}``; a structure absent from every study is ``None``
    and left out of the means. ``oracle_per_structure``: the precision of the K patches most covered
    by the structure (the best any model can do on this grid: a structure thinner than half a patch
    scores 0 whatever looks at it); ``attainable_mean``: the mean over structures whose oracle is
    above 0.
    """
    idx = np.asarray(_numpy(topk_indices), dtype=np.int64)
    frac = np.asarray(fractions, dtype=np.float64)
    if idx.ndim == 2:
        idx = idx[None]
    if frac.ndim == 2:
        frac = frac[None]
    if idx.ndim != 3 or frac.ndim != 3 or idx.shape[0] != frac.shape[0]:
        raise ValueError(f"need topk (B, N, K) and fractions (B, P, N), got {idx.shape} and {frac.shape}")
    b, n, k = idx.shape
    if frac.shape[2] != n or n != len(structure_names):
        raise ValueError(f"{len(structure_names)} structure names, topk has {n}, fractions {frac.shape[2]}")
    if idx.size and (idx.min() < 0 or idx.max() >= frac.shape[1]):
        raise ValueError(f"patch indices must lie in [0, {frac.shape[1]})")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    inside = frac >= threshold - 1e-9                        # (B, P, N)
    present = frac.sum(axis=1) > 0                          # (B, N): structure on the model grid
    per, chance, studies, oracle = {}, {}, {}, {}
    for s, name in enumerate(structure_names):
        if name in exclude:
            continue
        rows = np.nonzero(present[:, s])[0]
        studies[name] = int(len(rows))
        if not len(rows):
            per[name] = chance[name] = oracle[name] = None
            continue
        best = np.argsort(-frac[rows, :, s], axis=1)[:, :k]     # (b', K) most covered patches
        oracle[name] = float(np.take_along_axis(inside[rows, :, s], best, axis=1).mean())
        hits = inside[rows[:, None], idx[rows, s], s]          # (b', K)
        per[name] = float(hits.mean())
        chance[name] = float(inside[rows, :, s].mean())
    valid = [v for v in per.values() if v is not None]
    valid_chance = [v for v in chance.values() if v is not None]
    attainable = [per[name] for name, v in oracle.items() if v]
    return {"per_structure": per, "mean": float(np.mean(valid)) if valid else None,
            "oracle_per_structure": oracle, "attainable_mean": float(np.mean(attainable)) if attainable else None,
            "chance_per_structure": chance, "chance_mean": float(np.mean(valid_chance)) if valid_chance else None,
            "studies": studies, "threshold": float(threshold), "k": int(k), "n_studies": int(b)}


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def in_body_share(topk_indices, fractions, structure_names: Sequence[str], methods: Sequence[str] | None = None,
                  threshold: float = 0.5) -> dict:
    """Share of the top-K patches inside the body (module docstring).

    ``topk_indices`` (B, N, K); ``fractions`` (B, P) from
    :func:`ctrg_desktop.imaging.coverage.body_fractions`; ``methods``: per study, "label_map" or
    "hu" (how its body was found). Returns ``{"share", "per_structure",
    "chance", "n_studies", "k", "methods": {method: count}, "rule"}``."""
    idx = np.asarray(_numpy(topk_indices), dtype=np.int64)
    frac = np.asarray(fractions, dtype=np.float64)
    if idx.ndim != 3 or frac.ndim != 2 or idx.shape[0] != frac.shape[0] or idx.shape[1] != len(structure_names):
        raise ValueError(f"need topk (B, N={len(structure_names)}, K) and fractions (B, P), got {idx.shape} "
                         f"and {frac.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= frac.shape[1]):
        raise ValueError(f"patch indices must lie in [0, {frac.shape[1]})")
    inside = frac > threshold                                    # (B, P)
    hits = np.take_along_axis(inside, idx.reshape(idx.shape[0], -1), axis=1).reshape(idx.shape)
    counts: dict[str, int] = {}
    for m in methods or ():
        counts[m] = counts.get(m, 0) + 1
    empty = not idx.size
    return {"share": None if empty else float(hits.mean()),
            "per_structure": {name: None if empty else float(hits[:, n].mean())
                              for n, name in enumerate(structure_names)},
            "chance": None if not frac.size else float(inside.mean()),
            "n_studies": int(idx.shape[0]), "k": int(idx.shape[2]), "methods": counts,
            "rule": f"more than half of a patch's voxels in the body: label > 0 in the label map, "
                    f"else HU > {BODY_HU:g} in the model input, holes filled per slice"}
