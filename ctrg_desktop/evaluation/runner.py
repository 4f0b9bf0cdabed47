"""Evaluate a report model on a CT-RATE layout split: generation + every metric, as one JSON.

``evaluate_model(model, dataset_root, split="test")`` generates a report per study and computes

* ``nlg``: BLEU-1..4, METEOR, ROUGE-L, CIDEr (:mod:`ctrg_desktop.evaluation.nlg`);
* ``clinical_efficacy``: CE micro/macro/per-label P/R/F1 (:mod:`ctrg_desktop.evaluation.clinical`);
  reference labels from the dataset's label CSV when every study has them, else the labeller;
* ``retrieval``: report-to-volume Recall@10/50/100 with the stage-1 embeddings
  (:mod:`ctrg_desktop.evaluation.retrieval`);
* ``grounding``: top-K patch precision per structure on studies with a label map
  (:mod:`ctrg_desktop.evaluation.grounding`; ``None`` with a reason when there are none);
* ``diversity`` of the generated and of the reference reports (:mod:`ctrg_desktop.evaluation.diversity`);
* ``meta`` (model, data, split, counts, generation settings, timings) and ``reports``
  (per study: name, generated, reference, labels).

Studies are preprocessed as in training (:class:`ctrg_desktop.training.dataset.StudyDataset`:
the model config's spacing, input shape and HU window; reference = the findings).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 4


# Model names, folders and devices resolve in one place, :mod:`ctrg_desktop.model.zoo`; these thin
# wrappers keep this module's names and import torch only when called.

def resolve_model_folder(name_or_folder) -> Path:
    """A checkpoint folder path, or the name of a folder in the model zoo (bundled or the user's)."""
    from ctrg_desktop.model.zoo import resolve_model_folder as resolve

    return resolve(name_or_folder)


def load_model(name_or_folder, map_location="cpu"):
    """A checkpoint folder or model-zoo name, loaded (:func:`ctrg_desktop.model.zoo.load_model`)."""
    from ctrg_desktop.model.zoo import load_model as load

    return load(name_or_folder, device=map_location)


def resolve_device(device: str | None):
    from ctrg_desktop.model.zoo import resolve_device as resolve

    return resolve(device)


def _load_legend(root: Path) -> dict | None:
    """The label legend of a phantom dataset (``dataset.json``), else the phantoms' built-in one."""
    meta = root / "dataset.json"
    if meta.is_file():
        try:
            legend = json.loads(meta.read_text()).get("label_legend")
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {meta}: {exc}") from exc
        if legend:
            return legend
    from ctrg_desktop.data.phantoms.labelmap import STRUCTURE_OF_LABEL

    return dict(STRUCTURE_OF_LABEL)


def evaluate_model(model, dataset_root, split: str = "test", limit: int | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE, device: str | None = "auto",
                   retrieval_ks=(10, 50, 100), grounding_threshold: float = 0.5, meteor: bool = True,
                   reference_labels: str = "auto", cache_dir=None, include_reports: bool = True,
                   progress=None, **generation_kwargs) -> dict:
    """Generate reports for ``split`` of ``dataset_root`` and compute every metric (module docstring).

    ``model``: a :class:`StructureReportModel`, a checkpoint folder or a model-zoo name.
    ``limit``: the first N studies only. ``reference_labels``: "auto", "dataset" or "labeller".
    ``generation_kwargs`` go to ``ReportDecoder.generate`` (num_beams, max_length, min_length,
    no_repeat_ngram_size, repetition_penalty). ``progress(done, total)`` after each batch.
    """
    if reference_labels not in ("auto", "dataset", "labeller"):
        raise ValueError(f"reference_labels must be auto, dataset or labeller, got {reference_labels!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    started = time.perf_counter()
    model_name = str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    dev = resolve_device(device)
    was_training = model.training
    model = model.to(dev).eval()
    try:
        return _evaluate(model, dev, dataset_root, model_name=model_name, split=split, limit=limit,
                         batch_size=batch_size, retrieval_ks=retrieval_ks, grounding_threshold=grounding_threshold,
                         meteor=meteor, reference_labels=reference_labels, cache_dir=cache_dir,
                         include_reports=include_reports, progress=progress, generation_kwargs=generation_kwargs,
                         started=started)
    finally:
        model.train(was_training)


def _evaluate(model, dev, dataset_root, *, model_name, split, limit, batch_size, retrieval_ks, grounding_threshold,
              meteor, reference_labels, cache_dir, include_reports, progress, generation_kwargs, started) -> dict:
    """The body of :func:`evaluate_model` once the model is on ``dev`` in eval mode."""
    import torch
    import torch.nn.functional as F

    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.evaluation.clinical import clinical_efficacy, label_reports
    from ctrg_desktop.evaluation.diversity import diversity
    from ctrg_desktop.evaluation.grounding import grounding_precision, study_patch_fractions
    from ctrg_desktop.evaluation.nlg import nlg_metrics
    from ctrg_desktop.evaluation.retrieval import cosine_structure_similarity, recall_at_k
    from ctrg_desktop.imaging.pipeline import prepare_volume
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.training.dataset import StudyDataset

    cfg = model.config
    enc = cfg.encoder
    structures = load_structure_set_of(cfg)
    names = structures.names

    dataset = CTRateDataset(dataset_root, split=split, missing="skip")
    records = list(dataset.records)[: limit or None]
    if not records:
        raise ValueError(f"no studies in split {split!r} of {dataset.root}")
    studies = StudyDataset(records, cfg, cache_dir=cache_dir)
    legend = _load_legend(dataset.root) if any(r.label_map_path for r in records) else None

    generated, references, structure_texts, image_emb = [], [], [], []
    topk, fractions, grounded = [], [], []
    gen_started = time.perf_counter()
    for start in range(0, len(records), batch_size):
        batch = records[start:start + batch_size]
        arrays = []
        for record in batch:
            texts, report = studies.texts(record)
            structure_texts.append(texts)
            references.append(report)
            if record.label_map_path is not None:
                prepared = prepare_volume(read_study(record.volume_path), enc.spacing, enc.input_shape,
                                          enc.hu_window)
                arrays.append(np.ascontiguousarray(prepared.input, dtype=np.float32))
                fractions.append(study_patch_fractions(read_study(record.label_map_path), prepared, enc.grid,
                                                       legend, names))
                grounded.append(True)
            else:
                arrays.append(studies.volume_array(record))
                grounded.append(False)
        volume = torch.from_numpy(np.stack(arrays)).unsqueeze(1).to(dev)
        with torch.no_grad():
            visual = model.encode(volume)
            generated += model.decoder.generate(visual.decoder_tokens(), **generation_kwargs)
            image_emb.append(F.normalize(model.image_proj(visual.structure_tokens), dim=-1).float().cpu())
            topk.append(visual.topk_indices.cpu())
        if progress:
            progress(min(start + batch_size, len(records)), len(records))
    gen_seconds = time.perf_counter() - gen_started

    # clinical efficacy
    gen_labels = label_reports(generated)
    have_dataset_labels = all(set(CT_RATE_LABELS) <= set(r.labels) for r in records)
    if reference_labels == "dataset" and not have_dataset_labels:
        raise ValueError("reference_labels='dataset' but some studies have no labels CSV row")
    use_dataset = have_dataset_labels and reference_labels != "labeller"
    ref_labels = (np.array([[r.labels[k] for k in CT_RATE_LABELS] for r in records]) if use_dataset
                  else label_reports(references))
    ce = {**clinical_efficacy(gen_labels, ref_labels), "reference_source": "dataset" if use_dataset else "labeller"}

    # retrieval: reference reports (their structure texts) against the volumes
    with torch.no_grad():
        text_emb = torch.cat([model.text_features({"structure_texts": structure_texts[i:i + 64]}).float().cpu()
                              for i in range(0, len(structure_texts), 64)])
    similarity = cosine_structure_similarity(text_emb, torch.cat(image_emb))
    retrieval = recall_at_k(similarity, retrieval_ks)

    # grounding on studies with a label map
    all_topk = torch.cat(topk).numpy()
    if fractions:
        grounding = grounding_precision(all_topk[np.array(grounded)], np.stack(fractions), names,
                                        threshold=grounding_threshold)
    else:
        grounding = {"per_structure": None, "mean": None, "n_studies": 0,
                     "note": "no study of this split has a ground-truth label map"}

    result = {
        "meta": {"model": model_name, "data": str(dataset.root), "split": dataset.split, "n_studies": len(records),
                 "device": str(dev), "batch_size": batch_size, "generation": _jsonable(generation_kwargs),
                 "model_input": {"shape": list(enc.input_shape), "spacing": list(enc.spacing), "window": enc.window},
                 "structures": names, "labels": list(CT_RATE_LABELS),
                 "generation_seconds": round(gen_seconds, 3)},
        "nlg": nlg_metrics(references, generated, meteor=meteor),
        "clinical_efficacy": ce,
        "retrieval": retrieval,
        "grounding": grounding,
        "diversity": {"generated": diversity(generated), "reference": diversity(references)},
    }
    if include_reports:
        result["reports"] = [{"name": r.volume_name, "generated": g, "reference": ref,
                              "generated_labels": [k for k, v in zip(CT_RATE_LABELS, gl) if v],
                              "reference_labels": [k for k, v in zip(CT_RATE_LABELS, rl) if v]}
                             for r, g, ref, gl, rl in zip(records, generated, references, gen_labels, ref_labels)]
    result["meta"]["seconds"] = round(time.perf_counter() - started, 3)
    return result


def load_structure_set_of(cfg):
    from ctrg_desktop.reports.structures import load_structure_set

    structures = load_structure_set(cfg.structure_set)
    if len(structures) != cfg.observer.num_structures:
        raise ValueError(f"structure set {cfg.structure_set!r} has {len(structures)} structures but the model "
                         f"has {cfg.observer.num_structures} queries")
    return structures


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def write_metrics(result: dict, path) -> Path:
    """Write ``result`` as indented JSON (NaN/inf as null, numpy scalars as numbers); returns the path."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_jsonable(result), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def summary_line(result: dict) -> str:
    """One human line: the headline numbers."""
    nlg, ce, ret, gr = result["nlg"], result["clinical_efficacy"]["micro"], result["retrieval"], result["grounding"]

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    recalls = " ".join(f"R@{k.split('@')[1]} {f(v)}" for k, v in ret.items() if k.startswith("recall@"))
    return (f"{result['meta']['n_studies']} studies | BLEU-1 {f(nlg['BLEU-1'])} BLEU-4 {f(nlg['BLEU-4'])} "
            f"METEOR {f(nlg['METEOR'])} ROUGE-L {f(nlg['ROUGE-L'])} CIDEr {f(nlg['CIDEr'])} | "
            f"CE P/R/F1 {f(ce['precision'])}/{f(ce['recall'])}/{f(ce['f1'])} | {recalls} | "
            f"grounding {f(gr.get('mean'))} | distinct reports "
            f"{f(result['diversity']['generated']['distinct_reports'])}")


def _cmd_evaluate(args) -> int:
    generation = {"num_beams": args.num_beams}
    for key in ("max_length", "min_length", "no_repeat_ngram_size", "repetition_penalty"):
        if getattr(args, key) is not None:
            generation[key] = getattr(args, key)

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\r{done}/{total} studies", end="" if done < total else "\n", file=sys.stderr)

    result = evaluate_model(args.model, args.data, split=args.split, limit=args.limit, batch_size=args.batch_size,
                            device=args.device, meteor=not args.no_meteor, reference_labels=args.reference_labels,
                            grounding_threshold=args.grounding_threshold, cache_dir=args.cache_dir,
                            progress=progress, **generation)
    write_metrics(result, args.out)
    for warning in result["nlg"].get("warnings", []):
        print(f"ctrg: warning: {warning}", file=sys.stderr)
    print(summary_line(result))
    print(f"wrote {args.out}")
    return 0


def add_evaluate_parser(subparsers):
    """Add ``ctrg evaluate`` to an ``argparse`` subparsers object; returns the new parser."""
    p = subparsers.add_parser("evaluate", help="generate reports for a CT-RATE layout split and score them "
                                               "(NLG, clinical efficacy, retrieval, grounding, diversity)")
    p.add_argument("--model", required=True, help="checkpoint folder or model-zoo name")
    p.add_argument("--data", type=Path, required=True, help="CT-RATE layout folder (real or phantoms)")
    p.add_argument("--split", default="test", choices=("train", "valid", "validation", "test"))
    p.add_argument("--out", type=Path, required=True, help="metrics JSON to write")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N studies only")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--num-beams", type=int, default=3)
    p.add_argument("--max-length", type=int, default=None, help="tokens (default: the decoder's max_length)")
    p.add_argument("--min-length", type=int, default=None)
    p.add_argument("--no-repeat-ngram-size", type=int, default=None)
    p.add_argument("--repetition-penalty", type=float, default=None)
    p.add_argument("--reference-labels", default="auto", choices=("auto", "dataset", "labeller"),
                   help="where CE reference labels come from (auto: the labels CSV when complete)")
    p.add_argument("--grounding-threshold", type=float, default=0.5,
                   help="share of a patch's voxels that must lie in the structure")
    p.add_argument("--cache-dir", type=Path, default=None, help="cache of preprocessed volumes")
    p.add_argument("--no-meteor", action="store_true", help="skip METEOR (no Java process)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)
    return p
