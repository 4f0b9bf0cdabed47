"""The learnable retriever (torch): 18 observation logits -> Poincaré ball (or unit sphere), trained
with the ranking loss of seed REVTAF on cached logits, on CPU.

Model: x = (logits - mean)/std -> Linear(18, hidden) -> ReLU -> Linear(hidden, dim) -> exp0_c
(kind "poincare", distance d_c) or v/|v| (kind "cosine", distance 1 - cos, the ablation).

Ranking loss, per row i of the in-batch distance matrix D (B, B): candidates j exclude i itself
and every study of i's patient; the target π_i is the candidate nearest to i in Hamming distance
of the 72-value status vectors, **spread uniformly over ties** (when k candidates share the
smallest Hamming distance each gets 1/k of the target mass); L_rank = CE(-D_i / tau, π_i), the
mean over rows that have a candidate; the loss trained is ``rank_weight`` x L_rank (2.0, the
paper's weight, which matters when it is added to a decoder's loss). The result is exported as
a numpy :class:`~.projection.Projection`, so queries run without torch.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ctrg_desktop.retrieval import hyperbolic_torch as hbt
from ctrg_desktop.retrieval.projection import KINDS, Projection
from ctrg_desktop.retrieval.status import N_LABELS, VECTOR_SIZE


#: Poincaré distances span ~0..10, 1 - cos 0..2; on the demo model tau 0.2 in the ball memorised
#: the train split (unseen neighbours' Hamming 11.6) where 1.0 did not (10.4-10.5)
DEFAULT_TEMPERATURE = {"poincare": 1.0, "cosine": 0.1}


@dataclass
class RetrieverConfig:
    """Training of a retriever; ``kind`` poincare|cosine, curvature ``c`` (poincare only)."""

    kind: str = "poincare"
    curvature: float = 1.0
    hidden: int = 512
    dim: int = 64
    temperature: float | None = None  #: tau of CE(-D_i / tau, π_i); None: DEFAULT_TEMPERATURE of the kind
    rank_weight: float = 2.0   #: REVTAF's weight of the ranking loss
    lr: float = 1e-3
    weight_decay: float = 1e-4
    steps: int = 300
    batch: int = 1024
    seed: int = 0
    eval_every: int = 50       #: steps between nearest-neighbour Hamming evaluations (0: start and end only)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"retriever kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.temperature is None:
            self.temperature = DEFAULT_TEMPERATURE[self.kind]
        for name in ("curvature", "temperature", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("hidden", "dim", "steps", "batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch < 2:
            raise ValueError("batch must hold at least 2 studies")


class RetrieverNet(nn.Module):
    """(B, 18) logits -> (B, dim) embeddings (module docstring)."""

    def __init__(self, config: RetrieverConfig, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.kind, self.c = config.kind, float(config.curvature)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.fc1 = nn.Linear(N_LABELS, config.hidden)
        self.fc2 = nn.Linear(config.hidden, config.dim)
        nn.init.normal_(self.fc2.weight, std=0.5 / config.hidden ** 0.5)  # start well inside the ball
        nn.init.zeros_(self.fc2.bias)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        v = self.fc2(torch.relu(self.fc1((logits - self.mean) / self.std)))
        return hbt.expmap0(v, self.c) if self.kind == "poincare" else nn.functional.normalize(v, dim=-1)

    def distances(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, R) distances of embeddings a (B, dim) to b (R, dim)."""
        if self.kind == "poincare":
            return hbt.pairwise_distance(a, b, self.c)
        return 1 - a @ b.T

    def export(self, meta: dict | None = None) -> Projection:
        """The numpy :class:`Projection` of this network."""
        arrays = {"mean": self.mean, "std": self.std, "w1": self.fc1.weight.T, "b1": self.fc1.bias,
                  "w2": self.fc2.weight.T, "b2": self.fc2.bias}
        return Projection(self.kind, self.c, {k: v.detach().cpu().numpy().copy() for k, v in arrays.items()},
                          dict(meta or {}))


def ranking_targets(status_vectors: torch.Tensor, patients) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets (B, B) rows summing to 1, valid (B, B) bool candidates) for a batch.

    ``status_vectors`` (B, 72) 0/1; ``patients`` B ids. Row i spreads its mass uniformly over the
    candidates j (j != i, other patient) at the smallest Hamming distance; a row without candidates
    is all zero (and is left out of the loss).
    """
    s = status_vectors.float()
    hamming = s.sum(-1, keepdim=True) + s.sum(-1)[None, :] - 2 * s @ s.T
    codes = torch.as_tensor(np.unique(np.asarray(patients, dtype=str), return_inverse=True)[1].reshape(-1))
    valid = codes[:, None] != codes[None, :]  # also removes the diagonal
    masked = hamming.masked_fill(~valid, float("inf"))
    best = masked.min(dim=1, keepdim=True).values
    hits = (masked == best) & valid
    targets = hits.float() / hits.sum(-1, keepdim=True).clamp_min(1)
    return targets, valid


def ranking_loss(distances: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
                 temperature: float) -> torch.Tensor:
    """L_rank = mean over rows with a candidate of CE(-D_i / tau, π_i) (module docstring)."""
    scores = (-distances / temperature).masked_fill(~valid, float("-inf"))
    rows = valid.any(-1)
    if not rows.any():
        return distances.sum() * 0.0
    log_p = torch.log_softmax(scores[rows], dim=-1).masked_fill(~valid[rows], 0.0)
    return -(targets[rows] * log_p).sum(-1).mean()


def nearest_hamming(embeddings: np.ndarray, statuses: np.ndarray, patients, distances_fn, limit: int = 4096) -> float:
    """Mean Hamming distance (of 72-value vectors) between each of the first ``limit`` studies and its
    nearest other-patient study under ``distances_fn(a, b) -> (len a, len b)``."""
    n = min(len(embeddings), limit)
    patients = np.asarray(patients, dtype=str)
    d = np.asarray(distances_fn(embeddings[:n], embeddings), dtype=np.float64)
    d[patients[:n, None] == patients[None, :]] = np.inf
    ok = np.isfinite(d).any(1)
    j = d.argmin(1)
    s = statuses.astype(np.int64)
    return float(np.abs(s[:n][ok] - s[j[ok]]).sum(-1).mean()) if ok.any() else float("nan")


def train_retriever(logits, statuses, patients, config: RetrieverConfig | None = None,
                    progress=None) -> tuple[Projection, dict]:
    """Train a retriever on cached ``logits`` (R, 18), 72-value ``statuses`` (R, 72) and ``patients`` (R,).

    Returns (the numpy :class:`Projection`, log dict: per-step loss, nearest-neighbour mean
    Hamming at the start, every ``eval_every`` steps and the end, seconds). Deterministic for a seed.
    """
    config = config or RetrieverConfig()
    x = np.asarray(logits, dtype=np.float32)
    s = np.asarray(statuses, dtype=np.uint8)
    p = np.asarray([str(v) for v in patients])
    if x.ndim != 2 or x.shape[1] != N_LABELS or s.shape != (len(x), VECTOR_SIZE) or p.shape != (len(x),):
        raise ValueError(f"need logits (R, {N_LABELS}), statuses (R, {VECTOR_SIZE}) and R patients; got "
                         f"{x.shape}, {s.shape}, {p.shape}")
    if len(set(p)) < 2:
        raise ValueError("the training set needs studies of at least 2 patients")
    if not np.all(np.isfinite(x)):
        raise ValueError("logits contain NaN or infinity")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = RetrieverNet(config, x.mean(0), np.maximum(x.std(0), 1e-3))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xt, st = torch.from_numpy(x), torch.from_numpy(s)

    def evaluate() -> float:
        with torch.no_grad():
            emb = net(xt)
            return nearest_hamming(emb, s, p, lambda a, b: net.distances(a, b).numpy())

    log = {"config": asdict(config), "references": len(x), "patients": int(len(set(p))), "loss": [],
           "nearest_hamming": [(0, evaluate())]}
    started = time.perf_counter()
    batch = min(config.batch, len(x))
    for step in range(1, config.steps + 1):
        rows = rng.choice(len(x), size=batch, replace=False) if batch < len(x) else np.arange(len(x))
        targets, valid = ranking_targets(st[rows], p[rows])
        emb = net(xt[rows])
        loss = config.rank_weight * ranking_loss(net.distances(emb, emb), targets, valid, config.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log["loss"].append(round(float(loss.detach()), 6))
        if (config.eval_every and step % config.eval_every == 0) or step == config.steps:
            if log["nearest_hamming"][-1][0] != step:
                log["nearest_hamming"].append((step, evaluate()))
        if progress:
            progress(step, config.steps, log["loss"][-1])
    log["seconds"] = round(time.perf_counter() - started, 2)
    net.eval()
    return net.export({"training": {k: log[k] for k in ("config", "references", "patients", "seconds")}
                       | {"nearest_hamming": log["nearest_hamming"]}}), log
