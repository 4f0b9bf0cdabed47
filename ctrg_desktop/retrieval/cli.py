"""``ctrg retrieval train|index|neighbours`` and ``ctrg similar`` (thin over :mod:`ctrg_desktop.retrieval`).

``train`` caches the train split's observation logits and trains a retriever (weights file);
``index`` builds a model's reference index from train/valid (never test); ``neighbours`` writes
``{"study name": ["reference name", ...]}`` for a split (each study's nearest references of
other patients: by the index's retriever, at random, or by the oracle = Hamming distance of the
true reports' label statuses), which fusion training reads; ``similar`` prints a study's top k.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import numpy as np

from ctrg_desktop.retrieval.choice import METRICS, choose_rows



def _progress(quiet: bool):
    from ctrg_desktop.evaluation.runner import study_progress

    return study_progress(quiet)


def _load(args):
    from ctrg_desktop.model.zoo import load_model, resolve_model_folder

    folder = resolve_model_folder(args.model, need_weights=True)
    return folder, load_model(folder, device=args.device)


def _cache(args):
    from ctrg_desktop.resources import user_cache_dir

    return args.cache_dir if args.cache_dir is not None else user_cache_dir() / "retrieval"


def _config(args):
    from ctrg_desktop.retrieval.retriever import RetrieverConfig

    return RetrieverConfig(kind=args.metric, curvature=args.curvature, hidden=args.hidden, dim=args.dim,
                           temperature=args.temperature, rank_weight=args.rank_weight, lr=args.lr,
                           steps=args.steps, batch=args.batch, seed=args.seed)


def _cmd_train(args) -> int:
    from ctrg_desktop.retrieval.build import model_id, split_features
    from ctrg_desktop.retrieval.retriever import train_retriever
    from ctrg_desktop.retrieval.status import one_hot

    config = _config(args)
    _, model = _load(args)
    started = time.perf_counter()
    feats = split_features(model, args.data, "train", cache_dir=_cache(args), progress=_progress(args.quiet))
    projection, log = train_retriever(feats["logits"], one_hot(feats["statuses"]), feats["patients"], config)
    projection.meta["model_id"] = model_id(model)
    path = projection.save(args.out)
    (_, before), (_, after) = log["nearest_hamming"][0], log["nearest_hamming"][-1]
    print(f"{config.kind} retriever on {log['references']} train studies of {log['patients']} patients: loss "
          f"{log['loss'][0]:.3f} -> {log['loss'][-1]:.3f}, nearest-neighbour Hamming {before:.2f} -> {after:.2f}; "
          f"wrote {path} ({time.perf_counter() - started:.1f} s)")
    return 0


def _cmd_index(args) -> int:
    from ctrg_desktop.retrieval.build import build_index
    from ctrg_desktop.retrieval.index import INDEX_NAME

    folder, model = _load(args)
    started = time.perf_counter()
    index = build_index(model, args.data, splits=tuple(args.splits), retriever=args.retriever,
                        retriever_config=_config(args) if args.retriever is None else None,
                        cache_dir=_cache(args), progress=_progress(args.quiet))
    path = index.save(args.out or folder / INDEX_NAME)
    counts = {s: index.sources.count(s) for s in dict.fromkeys(index.sources)}
    print(f"reference index of {len(index)} studies ({', '.join(f'{n} {s}' for s, n in counts.items())}), "
          f"{index.projection.kind} dim {index.projection.dim}, model {index.model_id[:12]}; wrote {path} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


def neighbour_names(index, names, patients, statuses=None, logits=None, metric: str = "index", k: int = 1,
                    seed: int = 0) -> dict:
    """{study name: [k reference names]}, references of the study's own patient excluded; ``metric``
    as :func:`~ctrg_desktop.retrieval.choice.choose_rows` (``logits`` / ``statuses`` (N, 18))."""
    rng = np.random.default_rng(seed)
    return {name: [index.names[j] for j in choose_rows(index, metric, patient,
                                                      None if logits is None else logits[i],
                                                      None if statuses is None else statuses[i], k, rng)]
            for i, (name, patient) in enumerate(zip(names, patients))}


def _cmd_neighbours(args) -> int:
    from ctrg_desktop.atomic import atomic_write_text
    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.retrieval.build import model_id, patient_of, split_features
    from ctrg_desktop.retrieval.index import ReferenceIndex
    from ctrg_desktop.retrieval.status import statuses_of

    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    index = ReferenceIndex.load(args.index, corrections=False)  # reproducible: the user's corrections left out
    records = list(CTRateDataset(args.data, split=args.split, missing="skip").records)
    if not records:
        raise ValueError(f"no studies in split {args.split!r} of {args.data}")
    names = [r.volume_name for r in records]
    logits = None
    if args.metric in ("index", "probabilities"):
        row = {n: i for i, n in enumerate(index.names)}
        if all(n in row for n in names):
            logits = index.logits[[row[n] for n in names]]
        elif args.model is None:
            raise ValueError(f"studies of split {args.split!r} are not in the index: pass --model to encode them")
        else:
            _, model = _load(args)
            if model_id(model) != index.model_id:
                raise ValueError(f"{args.index} was built with another model than {args.model}")
            logits = split_features(model, args.data, args.split, cache_dir=_cache(args), allow_test=True,
                                    progress=_progress(args.quiet))["logits"]
    refs = neighbour_names(index, names, [patient_of(n) for n in names], statuses_of(r.findings for r in records),
                           logits, args.metric, args.k, args.seed)
    path = atomic_write_text(args.out, json.dumps(refs, indent=1), mode=0o644)
    print(f"{len(refs)} studies of {args.split}: {args.k} {args.metric} reference(s) each; wrote {path}")
    return 0


def _cmd_similar(args) -> int:
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.retrieval.similar import label_agreement, present_labels, similar_cases

    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    volume = read_study(args.study, series_uid=args.series)
    _, model = _load(args)
    found, logits = similar_cases(model, volume, k=args.k, index_path=args.index)
    present = present_labels(model, logits)
    if not found:
        print("no similar cases: the index is empty")
    for rank, n in enumerate(found, 1):
        agree, mine, theirs = label_agreement(present, n.statuses)
        print(f"{rank}. {n.name} ({n.source})  distance {n.distance:.3f}")
        print(f"   agree: {', '.join(agree) or '-'}")
        print(f"   disagree: {', '.join([f'{x} (this study)' for x in mine] + [f'{x} (the case)' for x in theirs]) or '-'}")
        print(textwrap.indent(textwrap.fill(n.report, 100), "   "))
    return 0


def _common(p, model_required: bool = True):
    p.add_argument("--model", required=model_required, help="model folder or model-zoo name")
    p.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache of preprocessed volumes and encoded logits (default: the user cache)")
    p.add_argument("--quiet", action="store_true")


def _training(p):
    p.add_argument("--metric", choices=("poincare", "cosine"), default="poincare", help="the retriever's space")
    p.add_argument("--curvature", type=float, default=1.0)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--temperature", type=float, default=None, help="default: 1.0 poincare, 0.1 cosine")
    p.add_argument("--rank-weight", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--seed", type=int, default=0)


def add_retrieval_parsers(subparsers):
    """Add ``ctrg retrieval {train,index,neighbours}`` and ``ctrg similar`` to ``argparse`` subparsers."""
    top = subparsers.add_parser("retrieval", help="similar prior cases: train the retriever, build the reference "
                                                  "index, list neighbours for fusion training")
    sub = top.add_subparsers(dest="retrieval_command", required=True)

    p = sub.add_parser("train", help="train a retriever on the train split's observation logits")
    _common(p)
    p.add_argument("--data", type=Path, required=True, help="CT-RATE layout folder")
    p.add_argument("--out", type=Path, required=True, help="retriever weights file (.npz)")
    _training(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("index", help="build a model's reference index from train/valid (never test)")
    _common(p)
    p.add_argument("--data", type=Path, required=True, help="CT-RATE layout folder")
    p.add_argument("--out", type=Path, default=None, help="index file (default: reference_index.npz in the "
                                                          "model folder, which ctrg register copies)")
    p.add_argument("--retriever", type=Path, default=None,
                   help="retriever weights (ctrg retrieval train); default: train one on the train split")
    p.add_argument("--splits", nargs="+", default=["train", "valid"], choices=("train", "valid", "test"),
                   help="reference splits (test is refused)")
    _training(p)
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("neighbours", help="each study's nearest references of other patients, as JSON")
    _common(p, model_required=False)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="train", choices=("train", "valid", "test"))
    p.add_argument("--out", type=Path, required=True, help='JSON {"study": ["reference", ...]}')
    p.add_argument("--metric", choices=METRICS, default="index",
                   help="index: the retriever; probabilities: nearest head probabilities (no learning); random; "
                        "oracle: nearest by the true reports' label statuses")
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="seed of --metric random")
    p.set_defaults(func=_cmd_neighbours)

    p = subparsers.add_parser("similar", help="print a study's most similar prior cases (drafts nothing)")
    p.add_argument("study", type=Path, help="CT study: DICOM folder/.zip/file, .nii(.gz), .nrrd, .mha")
    p.add_argument("--model", required=True, help="model folder or model-zoo name")
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--index", type=Path, default=None, help="index file (default: the model's)")
    p.add_argument("--series", help="SeriesInstanceUID to read when a folder holds several")
    p.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto")
    p.set_defaults(func=_cmd_similar)
    return top
