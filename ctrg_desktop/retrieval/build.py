"""Encode studies for retrieval and build a model's reference index (torch, imported lazily).

:func:`encode_arrays` runs the encoder (no decoding) over model inputs in batches and gives the
18 observation logits and a key-slice thumbnail of each; :func:`split_features` does it for a
CT-RATE split, caching the result; :func:`build_index` makes a :class:`~.index.ReferenceIndex`
from the train and valid splits (never test). :func:`model_id` names the model an index belongs to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ctrg_desktop.retrieval.arrays_file import ArraysFileError, load_arrays, save_arrays
from ctrg_desktop.retrieval.index import ReferenceIndex
from ctrg_desktop.retrieval.status import statuses_of
from ctrg_desktop.retrieval.thumbnail import key_slice, thumbnail

REFERENCE_SPLITS = ("train", "valid")
FEATURES_FORMAT = "ctrg-retrieval-features"


#: The parts whose weights decide the observation logits and key slices an index is built from.
VISUAL_PARTS = ("encoder.", "observer.", "observation.")


def model_id(model) -> str:
    """SHA-256 (hex) of the weights that make a model's observation logits (:data:`VISUAL_PARTS`),
    rounded to float16, in name order: the same for a trained model, its registered (float16)
    copy and a model whose decoder alone was trained further (the stage-2 and fusion runs keep
    them frozen), different for any other encoder, observer or heads."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if not name.startswith(VISUAL_PARTS):
            continue
        t = tensor.detach().cpu()
        t = t.half() if t.is_floating_point() else t
        digest.update(name.encode("utf-8") + str(tuple(t.shape)).encode("ascii"))
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()


def patient_of(name: str) -> str:
    """The patient of a CT-RATE study name: "train_12_a_1" -> "train_12"."""
    parts = str(name).split("_")
    return "_".join(parts[:2]) if len(parts) >= 2 else str(name)


def encode_arrays(model, arrays, statuses=None) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, 18) float32, thumbnails (B, 64, 64) uint8) of model inputs ``arrays`` (B, D, H, W).

    The thumbnail is the axial slice through the centre of the top patch the observer gives the
    structure of the study's most probable positive label (``statuses`` (B, 18) 0..3 of its
    report when known: its positive labels; else labels with probability >= 0.5), or the middle
    slice when there is none (:func:`.thumbnail.key_slice`).
    """
    import torch

    if getattr(model, "observation", None) is None:
        raise ValueError("the model has no observation heads: it cannot retrieve similar cases")
    device = next(model.parameters()).device
    volume = torch.from_numpy(np.ascontiguousarray(np.stack(arrays), dtype=np.float32)).unsqueeze(1).to(device)
    with torch.no_grad():
        out = model.encode(volume)
    logits = out.observation_logits.float().cpu().numpy()
    k = out.topk_indices.shape[-1]
    best = (out.topk_indices[..., 0] if k else out.attention.argmax(-1)).cpu().numpy()  # (B, N)
    of_label = model.observation.structure_of_label.cpu().numpy()
    grid = model.config.encoder.grid
    thumbs = []
    for b, array in enumerate(arrays):
        positive = None if statuses is None else np.asarray(statuses[b]) == 3
        index = key_slice(logits[b], positive, best[b][of_label], grid)
        thumbs.append(thumbnail(array[index]))
    return logits, np.stack(thumbs)


def _records(data_dir, split: str):
    from ctrg_desktop.data.ctrate import CTRateDataset

    if split == "test":
        raise ValueError("the reference index is built from train and valid studies only, never test "
                         "(test studies would be found as their own neighbours)")
    return list(CTRateDataset(data_dir, split=split, missing="skip").records)


def split_features(model, data_dir, split: str, cache_dir=None, batch_size: int = 4, progress=None,
                   allow_test: bool = False) -> dict:
    """{names, patients, reports, statuses (N, 18), logits (N, 18), thumbnails (N, 64, 64)} of a split.

    ``cache_dir``: volumes and the encoded result are cached there (the result keyed by the
    model id, the data folder and the split). ``allow_test`` lets evaluation encode test studies.
    """
    from ctrg_desktop.training.dataset import StudyDataset

    if split == "test" and allow_test:
        from ctrg_desktop.data.ctrate import CTRateDataset
        records = list(CTRateDataset(data_dir, split=split, missing="skip").records)
    else:
        records = _records(data_dir, split)
    if not records:
        raise ValueError(f"no studies in split {split!r} of {data_dir}")
    names = [r.volume_name for r in records]
    reports = [r.findings for r in records]
    statuses = statuses_of(reports)
    mid = model_id(model)
    cached = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{Path(data_dir).resolve()}|{split}".encode()).hexdigest()[:12]
        cached = Path(cache_dir) / f"retrieval-{mid[:12]}-{key}.npz"
        try:
            header, arrays = load_arrays(cached, FEATURES_FORMAT)
            if header["names"] == names and header["model"] == mid:
                return {"names": names, "patients": [patient_of(n) for n in names], "reports": reports,
                        "statuses": statuses, "logits": arrays["logits"], "thumbnails": arrays["thumbnails"]}
        except (ArraysFileError, KeyError):
            pass
    studies = StudyDataset(records, model.config, cache_dir=cache_dir)
    was_training = model.training
    model.eval()
    logits, thumbs = [], []
    try:
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            arrays = [studies.volume_array(r) for r in chunk]
            lg, th = encode_arrays(model, arrays, statuses[start:start + len(chunk)])
            logits.append(lg)
            thumbs.append(th)
            if progress:
                progress(start + len(chunk), len(records))
    finally:
        model.train(was_training)
    out = {"names": names, "patients": [patient_of(n) for n in names], "reports": reports, "statuses": statuses,
           "logits": np.concatenate(logits), "thumbnails": np.concatenate(thumbs)}
    if cached is not None:
        save_arrays(cached, {"format": FEATURES_FORMAT, "version": 1, "model": mid, "names": names},
                    {"logits": out["logits"], "thumbnails": out["thumbnails"]})
    return out


def reference_features(model, data_dir, splits=REFERENCE_SPLITS, **kwargs) -> dict:
    """:func:`split_features` of ``splits`` (train/valid only) concatenated, with ``sources``."""
    bad = [s for s in splits if s not in REFERENCE_SPLITS]
    if bad:
        raise ValueError(f"reference splits must be train and/or valid, never {', '.join(bad)}: "
                         "test studies must stay unseen")
    parts = [(s, split_features(model, data_dir, s, **kwargs)) for s in splits]
    out = {k: [] for k in ("names", "patients", "reports", "sources")}
    for split, part in parts:
        for k in ("names", "patients", "reports"):
            out[k] += part[k]
        out["sources"] += [split] * len(part["names"])
    for k in ("statuses", "logits", "thumbnails"):
        out[k] = np.concatenate([part[k] for _, part in parts])
    return out


def build_index(model, data_dir, splits=REFERENCE_SPLITS, retriever=None, retriever_config=None,
                cache_dir=None, batch_size: int = 4, progress=None) -> ReferenceIndex:
    """The reference index of ``model`` over ``splits`` of ``data_dir`` (train/valid; test refused).

    ``retriever``: a :class:`~.projection.Projection` or the path of a retriever weights file; when
    None one is trained here on the train split (``retriever_config``, a :class:`~.retriever.RetrieverConfig`).
    """
    from ctrg_desktop.retrieval.projection import Projection
    from ctrg_desktop.retrieval.status import one_hot

    refs = reference_features(model, data_dir, tuple(splits), cache_dir=cache_dir, batch_size=batch_size,
                              progress=progress)
    mid = model_id(model)
    if retriever is None:
        from ctrg_desktop.retrieval.retriever import train_retriever

        train = np.array([s == "train" for s in refs["sources"]])
        if not train.any():
            raise ValueError("no train studies to train the retriever on: pass a retriever")
        retriever, _ = train_retriever(refs["logits"][train], one_hot(refs["statuses"][train]),
                                       np.asarray(refs["patients"])[train], retriever_config)
        retriever.meta["model_id"] = mid
    elif not isinstance(retriever, Projection):
        retriever = Projection.load(retriever)
    trained_for = retriever.meta.get("model_id")
    if trained_for and trained_for != mid:
        raise ValueError(f"the retriever was trained on the logits of model {trained_for[:12]}, not of this "
                         f"model ({mid[:12]}): train one with 'ctrg retrieval train' on this model")
    info = getattr(model, "zoo_info", None)
    return ReferenceIndex(retriever, mid, refs["names"], refs["patients"], refs["sources"], refs["reports"],
                          refs["logits"], refs["statuses"], refs["thumbnails"],
                          model_name=getattr(info, "name", "") or "",
                          meta={"data": str(data_dir), "splits": list(splits),
                                "model_version": getattr(info, "version", "") or ""})
