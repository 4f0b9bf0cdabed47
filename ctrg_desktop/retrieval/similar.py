"""Similar prior cases of one study: encode it, query the model's reference index (torch for the encoder).

:func:`similar_cases` is what the drafting path and ``ctrg similar`` call; :func:`label_agreement`
compares a study's labels with a neighbour's (numpy, also for the GUI's label chips).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.retrieval.index import ReferenceIndex


def label_agreement(present, statuses) -> tuple[list[str], list[str], list[str]]:
    """(labels both state, labels only the study has, labels only the neighbour has).

    ``present`` (18,) bool: the study's labels (heads over threshold, or its draft's labeller
    statuses >= 2); ``statuses`` (18,) 0..3 of the neighbour's report, present when uncertain or positive.
    """
    mine = np.asarray(present, dtype=bool).reshape(-1)
    theirs = np.asarray(statuses).reshape(-1) >= 2
    if mine.shape != (len(CT_RATE_LABELS),) or theirs.shape != mine.shape:
        raise ValueError(f"need {len(CT_RATE_LABELS)} labels on both sides")
    pick = lambda m: [CT_RATE_LABELS[i] for i in np.flatnonzero(m)]  # noqa: E731
    return pick(mine & theirs), pick(mine & ~theirs), pick(~mine & theirs)


def present_labels(model, logits) -> np.ndarray:
    """(18,) bool: probability >= the label's threshold of the model's observation guide, else 0.5."""
    guide = getattr(model, "observation_guide", None)
    labels = getattr(guide, "labels", {}) or {}
    thresholds = np.array([labels[k].threshold if k in labels else 0.5 for k in CT_RATE_LABELS])
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64))) >= thresholds


@functools.lru_cache(maxsize=4)
def _cached_index(path: str, mtime: float, model_id: str, user_mtime: float) -> ReferenceIndex:
    return ReferenceIndex.load(path, model_id=model_id)


def model_index(model, index_path=None) -> ReferenceIndex:
    """The reference index of a loaded ``model`` (``index_path`` or ``model.reference_index_path``),
    checked against the model's id, with the user's accepted corrections; cached while the files
    are unchanged."""
    from ctrg_desktop.retrieval.index import corrections_path

    path = index_path or getattr(model, "reference_index_path", None)
    if path is None:
        name = getattr(getattr(model, "zoo_info", None), "name", "this model")
        raise CtrgError(f"{name} has no reference index of similar cases: build one with "
                        "'ctrg retrieval index --model M --data DIR'")
    path = Path(path)
    if not path.is_file():
        raise CtrgError(f"no reference index at {path}")
    mid = _model_id_cached(model)
    user = corrections_path(mid)
    return _cached_index(str(path), path.stat().st_mtime, mid, user.stat().st_mtime if user.exists() else 0.0)


def _model_id_cached(model) -> str:
    from ctrg_desktop.retrieval.build import model_id

    cached = getattr(model, "_retrieval_model_id", None)
    if cached is None:
        cached = model_id(model)
        model._retrieval_model_id = cached
    return cached


def study_logits(model, volume) -> tuple[np.ndarray, np.ndarray]:
    """((18,) observation logits, (64, 64) key-slice thumbnail) of a study ``volume`` (a ``Volume``)."""
    from ctrg_desktop.inference import model_input
    from ctrg_desktop.retrieval.build import encode_arrays

    prepared = model_input(volume, model.config)
    logits, thumbs = encode_arrays(model, [prepared.input])
    return logits[0], thumbs[0]


def similar_cases(model, volume, k: int = 3, index_path=None, exclude_patients=()) -> tuple[list, np.ndarray]:
    """(the ``k`` nearest references of ``volume`` as :class:`~.index.Neighbour` s, nearest first,
    the study's (18,) logits). Drafts nothing."""
    index = model_index(model, index_path)
    logits, _ = study_logits(model, volume)
    return index.query(logits, k=k, exclude_patients=exclude_patients), logits
