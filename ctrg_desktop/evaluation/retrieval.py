"""Report-to-volume retrieval: Recall@K from a (reports x volumes) similarity matrix.

Report ``r`` belongs to volume ``targets[r]`` (default: ``r``, the diagonal). Its rank is the
number of *other* volumes scoring at least as high as the right one (ties count against the
model, so a model whose embeddings collapse gets chance-level, not perfect, recall); a hit at K
is rank < K. K larger than the number of volumes is capped at it.

The similarity of the structure-query model (:func:`structure_similarity`): the mean over
structures of the cosine similarity between the image-side structure embedding
``normalize(image_proj(S))`` of a volume and the text-side embedding
``normalize(text_proj(text_encoder(structure text)))`` of the same structure in a report —
the spaces the stage-1 contrastive loss aligns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (10, 50, 100)


def retrieval_ranks(similarity, targets=None) -> np.ndarray:
    """0-based pessimistic rank of each report's own volume (R,)."""
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] == 0 or sim.shape[1] == 0:
        raise ValueError(f"similarity must be a non-empty (reports, volumes) matrix, got shape {sim.shape}")
    r, v = sim.shape
    if targets is None:
        if r > v:
            raise ValueError(f"{r} reports but only {v} volumes: give targets (volume index per report)")
        targets = np.arange(r)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (r,) or targets.min() < 0 or targets.max() >= v:
        raise ValueError(f"targets must be {r} volume indices in [0, {v})")
    if not np.isfinite(sim).all():
        raise ValueError("similarity holds NaN or infinite values")
    own = sim[np.arange(r), targets][:, None]
    return (sim >= own).sum(axis=1) - 1


def recall_at_k(similarity, ks: Sequence[int] = DEFAULT_KS, targets=None) -> dict:
    """``{"recall@K": share of reports whose volume ranks in the top K, ...}`` plus
    ``"effective_k"`` (K capped at the number of volumes), ``"mean_rank"``/``"median_rank"``
    (1-based), ``"n_reports"``, ``"n_volumes"`` and ``"chance@K"`` (K / volumes)."""
    ranks = retrieval_ranks(similarity, targets)
    n_vol = int(np.asarray(similarity).shape[1])
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"K must be at least 1, got {list(ks)}")
    out: dict = {}
    effective = {}
    for k in ks:
        eff = min(int(k), n_vol)
        effective[f"recall@{k}"] = eff
        out[f"recall@{k}"] = float(np.mean(ranks < eff))
        out[f"chance@{k}"] = eff / n_vol
    out.update({"effective_k": effective, "mean_rank": float(np.mean(ranks) + 1),
                "median_rank": float(np.median(ranks) + 1), "n_reports": int(len(ranks)),
                "n_volumes": n_vol})
    return out


def cosine_structure_similarity(text_embeddings, image_embeddings, structures: Sequence[int] | None = None
                                ) -> np.ndarray:
    """(R, N, d) text and (V, N, d) image structure embeddings -> (R, V) mean-over-structures cosine.

    Embeddings are L2-normalised here (already normalised ones are unchanged); ``structures``
    restricts the mean to those structure indices.
    """
    t = np.asarray(_numpy(text_embeddings), dtype=np.float64)
    v = np.asarray(_numpy(image_embeddings), dtype=np.float64)
    if t.ndim != 3 or v.ndim != 3 or t.shape[1:] != v.shape[1:]:
        raise ValueError(f"need (R, N, d) and (V, N, d) embeddings, got {t.shape} and {v.shape}")
    if structures is not None:
        t, v = t[:, list(structures)], v[:, list(structures)]
    t = t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return np.einsum("rnd,vnd->rv", t, v) / t.shape[1]


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def image_structure_embeddings(model, structure_tokens):
    """Structure tokens S (B, N, dim) of ``model.encode`` -> normalised image embeddings (B, N, proj)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return F.normalize(model.image_proj(structure_tokens), dim=-1)


def text_structure_embeddings(model, reports: Sequence[str], structure_set=None, batch_size: int = 64):
    """Reports -> normalised text embeddings (R, N, proj): each report split into its structures'
    texts (defaults where a structure is not mentioned), encoded and projected as in stage 1."""
    import torch

    from ctrg_desktop.reports.parser import parse_report
    from ctrg_desktop.reports.structures import load_structure_set

    structures = structure_set or load_structure_set(model.config.structure_set)
    texts = [parse_report(r or "", structures).texts_by_structure() for r in reports]
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            out.append(model.text_features({"structure_texts": texts[start:start + batch_size]}).cpu())
    if not out:
        return torch.empty(0, len(structures), model.config.stage1.proj_dim)
    return torch.cat(out)


def structure_similarity(model, reports: Sequence[str], volumes=None, image_embeddings=None,
                         structures: Sequence[int] | None = None) -> np.ndarray:
    """(R, V) similarity between reports and volumes ((V, 1, D, H, W) tensor) or precomputed
    image embeddings (V, N, proj) under ``model``'s stage-1 heads."""
    import torch

    if image_embeddings is None:
        if volumes is None:
            raise ValueError("give volumes or image_embeddings")
        with torch.no_grad():
            image_embeddings = image_structure_embeddings(model, model.encode(volumes).structure_tokens)
    return cosine_structure_similarity(text_structure_embeddings(model, reports), image_embeddings, structures)
