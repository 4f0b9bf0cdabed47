"""Evaluate a report model on a CT-RATE layout split: generation + every metric, as one JSON.

``evaluate_model(model, dataset_root, split="test")`` (``split="all"``: every study of the
folder, e.g. a fresh ``ctrg phantoms --seed N`` set) generates a report per study, cleans it as a
draft is cleaned (:func:`ctrg_desktop.reports.cleanup.clean_report`, with the study's observation
probabilities: the scores are of the text users see) and computes

* ``nlg``: BLEU-1..4, METEOR, ROUGE-L, CIDEr (:mod:`ctrg_desktop.evaluation.nlg`);
* ``clinical_efficacy``: CE micro/macro/per-label P/R/F1 (:mod:`ctrg_desktop.evaluation.clinical`);
  reference labels from the dataset's label CSV when every study has them, else the labeller;
* ``retrieval``: report-to-volume Recall@10/50/100 with the stage-1 embeddings
  (:mod:`ctrg_desktop.evaluation.retrieval`);
* ``grounding``: top-K patch precision per structure on studies with a label map
  (:mod:`ctrg_desktop.evaluation.grounding`; ``None`` with a reason when there are none);
* ``diversity`` of the generated and of the reference reports (:mod:`ctrg_desktop.evaluation.diversity`);
* ``baselines``: the model-free most common and random training reports scored the same way on
  the same studies (:mod:`ctrg_desktop.evaluation.baselines`; training reports of
  ``baseline_data``'s train split, by default the evaluated folder's);
* ``observations``: per-label AUROC of the observation heads against the labels CSV and its mean
  (:mod:`ctrg_desktop.evaluation.observations`; ``None`` with a reason without heads or labels);
* ``in_body``: the share of the top-K patches inside the patient
  (:func:`ctrg_desktop.evaluation.grounding.in_body_share`: label map where there is one, else
  HU > -500 in the model input);
* ``similar_cases`` (:mod:`ctrg_desktop.evaluation.retrieval_run`): CE F1 on labels of prevalence
  < 10 % in the training reports and, with ``retrieval``, the prior cases fused into the decoder
  (their Hamming distance against random training reports', the copy rate);
* ``meta`` (model, data, split, counts, generation settings, timings) and ``reports``
  (per study: name, generated (cleaned), generated_raw, reference, labels).

Generation's ``max_length`` defaults to the drafting budget
(:func:`ctrg_desktop.inference.generation_budget`).

Studies are preprocessed as in training (:class:`ctrg_desktop.training.dataset.StudyDataset`:
the model config's spacing, input shape and HU window; reference = the findings).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from ctrg_desktop.evaluation.retrieval_run import MODES as RETRIEVAL_MODES
from ctrg_desktop.evaluation.retrieval_run import load_chooser, retrieval_figures
# The output side lives in evaluation.summary; its names are re-exported here.
from ctrg_desktop.evaluation.summary import study_progress, summary_line, write_metrics  # noqa: F401
from ctrg_desktop.jsonable import jsonable

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 4
SPLITS = ("train", "valid", "validation", "test", "all")


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
    from ctrg_desktop.devices import resolve_device as resolve

    return resolve(device)


def evaluate_model(model, dataset_root, split: str = "test", limit: int | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE, device: str | None = "auto",
                   retrieval_ks=(10, 50, 100), grounding_threshold: float = 0.5, meteor: bool = True,
                   reference_labels: str = "auto", cache_dir=None, include_reports: bool = True,
                   progress=None, baseline_data=None, baseline_draws: int = 20, guide: bool = True,
                   retrieval: str = "off", retrieval_index=None, **generation_kwargs) -> dict:
    """Generate reports for ``split`` of ``dataset_root`` and compute every metric (module docstring).

    ``model``: a :class:`StructureReportModel`, a checkpoint folder or a model-zoo name.
    ``split``: train, valid, test or all. ``limit``: the first N studies only. ``reference_labels``:
    "auto", "dataset" or "labeller". ``baseline_data``: the folder whose train split gives the
    baselines' training reports (default ``dataset_root``); ``baseline_draws``: random-report
    draws. ``guide``: apply the model's observation guide (if it has one) as drafts do; the
    result's ``guide`` names its labels and gives the CE of the same reports without it.
    ``retrieval``: the prior case fused into a fusion model's decoder ("off", "index",
    "probabilities", "random", "oracle": :mod:`ctrg_desktop.evaluation.retrieval_run`) from
    ``retrieval_index`` (default: the model's); the result's ``similar_cases`` gives its figures.
    ``generation_kwargs`` go to ``ReportDecoder.generate`` (num_beams, max_length, min_length,
    no_repeat_ngram_size, repetition_penalty). ``progress(done, total)`` after each batch.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use {', '.join(SPLITS)}")
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
    chooser = load_chooser(model, retrieval, retrieval_index)
    try:
        return _evaluate(model, dev, dataset_root, model_name=model_name, split=split, limit=limit,
                         batch_size=batch_size, retrieval_ks=retrieval_ks, grounding_threshold=grounding_threshold,
                         meteor=meteor, reference_labels=reference_labels, cache_dir=cache_dir,
                         include_reports=include_reports, progress=progress, generation_kwargs=generation_kwargs,
                         started=started, baseline_data=baseline_data, baseline_draws=baseline_draws,
                         guide=getattr(model, "observation_guide", None) if guide else None, chooser=chooser)
    finally:
        model.train(was_training)


def _evaluate(model, dev, dataset_root, *, model_name, split, limit, batch_size, retrieval_ks, grounding_threshold,
              meteor, reference_labels, cache_dir, include_reports, progress, generation_kwargs, started,
              baseline_data, baseline_draws, guide, chooser=None) -> dict:
    """The body of :func:`evaluate_model` once the model is on ``dev`` in eval mode."""
    import torch
    import torch.nn.functional as F

    from ctrg_desktop.data.ctrate import CTRateDataset, label_legend
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.evaluation.clinical import clinical_efficacy, label_reports
    from ctrg_desktop.evaluation.diversity import diversity
    from ctrg_desktop.evaluation.grounding import grounding_precision, in_body_share
    from ctrg_desktop.imaging.coverage import (body_fractions, input_body_mask, label_body_mask, labels_on_grid,
                                               study_patch_fractions)
    from ctrg_desktop.evaluation.nlg import nlg_metrics
    from ctrg_desktop.evaluation.observations import observation_auroc
    from ctrg_desktop.evaluation.retrieval import cosine_structure_similarity, recall_at_k
    from ctrg_desktop.imaging.pipeline import prepare_volume
    from ctrg_desktop.inference import generation_budget
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.reports.cleanup import clean_text
    from ctrg_desktop.retrieval.status import statuses_of
    from ctrg_desktop.training.dataset import StudyDataset

    cfg = model.config
    enc = cfg.encoder
    structures = load_structure_set_of(cfg)
    names = structures.names

    dataset = CTRateDataset(dataset_root, split=None if split == "all" else split, missing="skip")
    records = list(dataset.records)[: limit or None]
    if not records:
        raise ValueError(f"no studies in split {split!r} of {dataset.root}")
    studies = StudyDataset(records, cfg, cache_dir=cache_dir)
    legend = label_legend(dataset.root) if any(r.label_map_path for r in records) else None
    generation_kwargs = dict(generation_kwargs)
    if not generation_kwargs.get("max_length"):
        generation_kwargs["max_length"] = generation_budget(cfg)

    raw_generated, references, structure_texts, image_emb = [], [], [], []
    topk, fractions, grounded, body, body_method, probabilities = [], [], [], [], [], []
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
                label_volume = read_study(record.label_map_path)
                on_grid = labels_on_grid(label_volume, prepared)
                fractions.append(study_patch_fractions(label_volume, prepared, enc.grid, legend, names, on_grid))
                body.append(body_fractions(label_body_mask(on_grid), enc.grid))
                body_method.append("label_map")
                grounded.append(True)
            else:
                arrays.append(studies.volume_array(record))
                body.append(body_fractions(input_body_mask(arrays[-1], enc.hu_window), enc.grid))
                body_method.append("hu")
                grounded.append(False)
        volume = torch.from_numpy(np.stack(arrays)).unsqueeze(1).to(dev)
        with torch.no_grad():
            visual = model.encode(volume)
            fused = None
            if chooser is not None:
                rows = chooser.choose([r.volume_name for r in batch], visual.observation_logits.float().cpu().numpy(),
                                      statuses_of(references[-len(batch):]))
                fused = chooser.reports(rows)
            raw_generated += model.decoder.generate(model.decoder_input(visual, fused), **generation_kwargs)
            image_emb.append(F.normalize(model.image_proj(visual.structure_tokens), dim=-1).float().cpu())
            topk.append(visual.topk_indices.cpu())
            probs = visual.observation_probabilities()
            probabilities.append(None if probs is None else probs.float().cpu().numpy())
        if progress:
            progress(min(start + batch_size, len(records)), len(records))
    gen_seconds = time.perf_counter() - gen_started
    observed = np.concatenate(probabilities) if all(p is not None for p in probabilities) else None
    generated = [clean_text(raw, None if observed is None else dict(zip(CT_RATE_LABELS, observed[i].tolist())),
                            guide) for i, raw in enumerate(raw_generated)]

    # clinical efficacy
    gen_labels = label_reports(generated)
    have_dataset_labels = all(set(CT_RATE_LABELS) <= set(r.labels) for r in records)
    if reference_labels == "dataset" and not have_dataset_labels:
        raise ValueError("reference_labels='dataset' but some studies have no labels CSV row")
    use_dataset = have_dataset_labels and reference_labels != "labeller"
    ref_labels = (np.array([[r.labels[k] for k in CT_RATE_LABELS] for r in records]) if use_dataset
                  else label_reports(references))
    ce = {**clinical_efficacy(gen_labels, ref_labels), "reference_source": "dataset" if use_dataset else "labeller"}
    guided = _guide_figures(guide, raw_generated, observed, ref_labels, generated)

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
    in_body = in_body_share(all_topk, np.stack(body), names, body_method)

    # observation heads against the labels CSV
    if observed is None:
        observations = {"mean": None, "per_label": None, "note": "the model has no observation heads"}
    elif not have_dataset_labels:
        observations = {"mean": None, "per_label": None, "note": "some studies have no labels CSV row"}
    else:
        observations = observation_auroc(observed, np.array([[r.labels[k] for k in CT_RATE_LABELS] for r in records]),
                                         CT_RATE_LABELS)

    baselines = _baselines(baseline_data or dataset.root, dataset, split, references, ref_labels, baseline_draws)

    result = {
        "meta": {"model": model_name, "data": str(dataset.root), "split": dataset.split or "all",
                 "n_studies": len(records),
                 "device": str(dev), "batch_size": batch_size, "generation": jsonable(generation_kwargs),
                 "model_input": {"shape": list(enc.input_shape), "spacing": list(enc.spacing), "window": enc.window},
                 "structures": names, "labels": list(CT_RATE_LABELS),
                 "generation_seconds": round(gen_seconds, 3)},
        "nlg": nlg_metrics(references, generated, meteor=meteor),
        "clinical_efficacy": ce,
        "retrieval": retrieval,
        "grounding": grounding,
        "diversity": {"generated": diversity(generated), "reference": diversity(references)},
        "baselines": baselines,
        "observations": observations,
        "guide": guided,
        "in_body": in_body,
        "similar_cases": retrieval_figures(chooser, statuses_of(references), generated, gen_labels, ref_labels,
                                           _train_labels(baseline_data or dataset.root)),
    }
    if include_reports:
        result["reports"] = [{"name": r.volume_name, "generated": g, "generated_raw": raw, "reference": ref,
                              "generated_labels": [k for k, v in zip(CT_RATE_LABELS, gl) if v],
                              "reference_labels": [k for k, v in zip(CT_RATE_LABELS, rl) if v]}
                             for r, g, raw, ref, gl, rl in zip(records, generated, raw_generated, references,
                                                               gen_labels, ref_labels)]
    result["meta"]["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _guide_figures(guide, raw_generated, observed, ref_labels, generated) -> dict:
    """The observation guide's part: its labels, how many reports it changed, and the CE of the
    same reports without it (the decoder alone), so one run shows both."""
    from ctrg_desktop.data.labels import CT_RATE_LABELS
    from ctrg_desktop.evaluation.clinical import clinical_efficacy, label_reports
    from ctrg_desktop.reports.cleanup import clean_text

    if guide is None or observed is None:
        return {"applied": False, "labels": []}
    plain = [clean_text(raw, dict(zip(CT_RATE_LABELS, observed[i].tolist()))) for i, raw in enumerate(raw_generated)]
    without = clinical_efficacy(label_reports(plain), ref_labels)
    return {"applied": True, "labels": list(guide.labels), "min_auroc": guide.min_auroc,
            "reports_changed": int(sum(a != b for a, b in zip(plain, generated))),
            "clinical_efficacy_without": {"micro": without["micro"], "macro": without["macro"]}}


def _train_labels(root):
    """(M, 18) labeller labels of ``root``'s training reports, or None without a train split."""
    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.evaluation.clinical import label_reports

    try:
        reports = [r.findings for r in CTRateDataset(root, split="train", missing="skip").records]
    except ValueError:
        return None
    return label_reports(reports) if reports else None


def _baselines(root, dataset, split: str, references, ref_labels, draws: int) -> dict:
    """The model-free baselines on the evaluated studies, from ``root``'s training reports."""
    from ctrg_desktop.data.ctrate import CTRateDataset
    from ctrg_desktop.evaluation.baselines import report_baselines

    try:
        train = CTRateDataset(root, split="train", missing="skip")
    except ValueError as exc:
        return {"note": f"no baselines: {exc}"}
    reports = [r.findings for r in train.records if r.findings and r.findings.strip()]
    if not reports:
        return {"note": f"no baselines: no training report in {train.root}"}
    found = report_baselines(reports, ref_labels, references, draws=draws)
    overlap = train.root.resolve() == dataset.root.resolve() and split in ("train", "all")
    found["train_reports"] = {"data": str(train.root), "split": "train", "overlaps_scored_studies": overlap}
    return found


def load_structure_set_of(cfg):
    from ctrg_desktop.reports.structures import load_structure_set

    structures = load_structure_set(cfg.structure_set)
    if len(structures) != cfg.observer.num_structures:
        raise ValueError(f"structure set {cfg.structure_set!r} has {len(structures)} structures but the model "
                         f"has {cfg.observer.num_structures} queries")
    return structures


def _cmd_evaluate(args) -> int:
    generation = {"num_beams": args.num_beams}
    for key in ("max_length", "min_length", "no_repeat_ngram_size", "repetition_penalty"):
        if getattr(args, key) is not None:
            generation[key] = getattr(args, key)

    result = evaluate_model(args.model, args.data, split=args.split, limit=args.limit, batch_size=args.batch_size,
                            guide=args.guide == "on", retrieval=args.retrieval, retrieval_index=args.retrieval_index,
                            device=args.device, meteor=not args.no_meteor, reference_labels=args.reference_labels,
                            grounding_threshold=args.grounding_threshold, cache_dir=args.cache_dir,
                            progress=study_progress(args.quiet), baseline_data=args.baseline_data, baseline_draws=args.baseline_draws,
                            **generation)
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
    p.add_argument("--split", default="test", choices=SPLITS, help="the split to score; all: every study")
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
    p.add_argument("--baseline-data", type=Path, default=None,
                   help="folder whose train split gives the baselines' training reports (default: --data; "
                        "give the model's training data when scoring --split all of another set)")
    p.add_argument("--baseline-draws", type=int, default=20, help="random training report draws")
    p.add_argument("--no-meteor", action="store_true", help="skip METEOR (no Java process)")
    p.add_argument("--guide", choices=("on", "off"), default="on",
                   help="apply the model's observation guide (if it has one), as drafts do")
    p.add_argument("--retrieval", choices=RETRIEVAL_MODES, default="off",
                   help="prior case fused into a fusion model's decoder: index (its retriever), probabilities "
                        "(nearest head probabilities), random, oracle (nearest by the true report's labels)")
    p.add_argument("--retrieval-index", type=Path, default=None, help="reference index (default: the model's)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)
    return p
