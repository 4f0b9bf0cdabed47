"""72-value label-status vectors of report texts and their Hamming distances (numpy).

Each of the 18 CT-RATE labels (:data:`~ctrg_desktop.data.labels.CT_RATE_LABELS` order) has one
status from the project's labeller (:func:`ctrg_desktop.reports.labeller.mentions`):
0 absent, 1 negated, 2 uncertain, 3 positive. The vector is the 18 x 4 one-hot, flattened
label-major (value ``4 * label + status``), so two reports that disagree on one label differ in
two of the 72 values.
"""

from __future__ import annotations

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS

N_LABELS = len(CT_RATE_LABELS)
N_STATES = 4
STATE_NAMES = ("absent", "negated", "uncertain", "positive")
VECTOR_SIZE = N_LABELS * N_STATES  #: 72


def report_statuses(text: str) -> np.ndarray:
    """(18,) uint8 status (0..3) of each label in ``text``."""
    from ctrg_desktop.reports.labeller import mentions

    found = mentions(text or "")
    return np.array([int(found.get(label, 0)) for label in CT_RATE_LABELS], dtype=np.uint8)


def statuses_of(texts) -> np.ndarray:
    """(N, 18) uint8 statuses of ``texts``."""
    rows = [report_statuses(t) for t in texts]
    return np.stack(rows) if rows else np.zeros((0, N_LABELS), dtype=np.uint8)


def one_hot(statuses) -> np.ndarray:
    """(..., 72) uint8 one-hot vectors of (..., 18) statuses in 0..3."""
    s = np.asarray(statuses)
    if s.shape[-1:] != (N_LABELS,):
        raise ValueError(f"statuses must end in {N_LABELS} labels, got shape {s.shape}")
    if s.size and (s.min() < 0 or s.max() >= N_STATES):
        raise ValueError(f"statuses must lie in 0..{N_STATES - 1}, got {s.min()}..{s.max()}")
    out = np.zeros(s.shape + (N_STATES,), dtype=np.uint8)
    np.put_along_axis(out, s[..., None].astype(np.int64), 1, axis=-1)
    return out.reshape(s.shape[:-1] + (VECTOR_SIZE,))


def status_vectors(texts) -> np.ndarray:
    """(N, 72) uint8 status vectors of ``texts``."""
    return one_hot(statuses_of(texts))


def hamming(a, b) -> np.ndarray:
    """Hamming distances between 72-value vectors: ``a`` (N, 72) or (72,) vs ``b`` (M, 72) or (72,);
    (N, M), (M,), (N,) or a scalar array, int64 (values 0..72, even for one-hot vectors)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors differ in length: {a.shape[-1]} vs {b.shape[-1]}")
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    # |a - b| summed = |a| + |b| - 2 a.b for 0/1 vectors
    out = a2.sum(-1)[:, None] + b2.sum(-1)[None, :] - 2 * (a2 @ b2.T)
    if a.ndim == 1 and b.ndim == 1:
        return out[0, 0]
    if a.ndim == 1:
        return out[0]
    if b.ndim == 1:
        return out[:, 0]
    return out


def status_hamming(sa, sb) -> np.ndarray:
    """:func:`hamming` of the one-hot vectors of (…, 18) statuses = 2 x (labels whose status differs)."""
    return hamming(one_hot(sa), one_hot(sb))
