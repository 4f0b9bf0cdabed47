"""Draft a report for one study: the function ``ctrg generate`` and the GUI call (no Qt here).

``draft_report(volume, model)`` preprocesses the study exactly as training did -- the spacing,
input shape (patch grid) and HU window all come from the model's saved config, through the same
:func:`ctrg_desktop.imaging.pipeline.prepare_volume` the training dataset calls -- encodes it,
generates the report, routes its sentences to the structures of the model's structure set and
maps each structure's top-K patches back to the original study (voxel and LPS world mm).

The generated text goes through :func:`ctrg_desktop.reports.cleanup.clean_report` (tokenizer
artefacts, sentence case, a cut last sentence, repeats, contradicting sentences settled by the
observation heads) before it is routed; ``raw_text`` keeps the model's own words and every
dropped sentence is a warning. ``observations`` holds the observation heads' probability of each
CT-RATE label (empty for a model without heads).

The result, :class:`~ctrg_desktop.draft_file.DraftReport`, is plain data: ``to_json()`` gives a
JSON-ready dict and ``save(path)`` writes it with the attention map (N structures x P patches,
float32) as ``<stem>.attention.npy`` beside it; :func:`load_draft` reads both back for review
without a model. For a model with reference fusion, the nearest prior case of its reference index
is fused into the decoder (``references`` names it; ``retrieval=False`` drafts without).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
import warnings as _warnings

import numpy as np

from ctrg_desktop.devices import resolve_device
# The draft's data and files live in draft_file; their names are re-exported here.
from ctrg_desktop.draft_file import (ATTENTION_SUFFIX, FORMAT, FORMAT_VERSION, TIMING_KEYS,
                                     DraftReport, StructureDraft, attention_path_for, draft_from_json, load_draft)
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume

DEFAULT_GENERATION = {"num_beams": 3, "max_length": None, "min_length": 1, "no_repeat_ngram_size": 0,
                      "repetition_penalty": 1.0}
#: Tokens a BERT-decoder draft may use unless asked otherwise ([CLS] and [SEP] included): a whole
#: report must fit. Findings of the synthetic training studies take 250 tokens on average, 323 at
#: the 99th percentile and 360 at most (2,400 studies of ``ctrg phantoms --seed 1``); CT-RATE's
#: reports were cut at 220 words. A model that ends its report earlier stops there.
REPORT_TOKEN_BUDGET = 384
#: CPU threads for the decoder. Decoding is hundreds of steps of tiny ops: a second thread gains
#: ~20 % on an idle machine, but where the cores are shared OpenMP's spinning threads wait on each
#: other and the same decode measured 40x slower (12 s instead of 0.3 s for 40 tokens on 2 cores).
DECODE_THREADS = 1


def generation_budget(config) -> int:
    """Default ``max_length`` of a draft for a model of ``config`` (a ``ModelConfig``).

    BERT decoder: ``max(decoder.max_length, REPORT_TOKEN_BUDGET)`` within its position embeddings
    (a config's ``max_length`` also truncates training reports, and 256 cut 41 % of them). An LLM
    decoder counts new tokens in its own vocabulary: its ``decoder.max_length``."""
    dec = config.decoder
    if getattr(dec, "kind", "bert") != "bert":
        return int(dec.max_length)
    from ctrg_desktop.model.decoder import position_limit

    return int(min(position_limit(dec), max(dec.max_length, REPORT_TOKEN_BUDGET)))


def model_input(study: Volume, config):
    """The :class:`PreparedVolume` a model of ``config`` (a ``ModelConfig``) reads for ``study``.

    Exactly the training dataset's preprocessing (``StudyDataset.volume_array``): resample to
    ``config.encoder.spacing``, crop/pad to ``config.encoder.input_shape``, clip and scale with
    ``config.encoder.hu_window``; ``.input`` is C-contiguous float32.
    """
    from ctrg_desktop.imaging.pipeline import prepare_volume

    enc = config.encoder
    prepared = prepare_volume(study, enc.spacing, enc.input_shape, enc.hu_window)
    prepared.input = np.ascontiguousarray(prepared.input, dtype=np.float32)
    if tuple(prepared.input.shape) != tuple(enc.input_shape):
        raise RuntimeError(f"preprocessing gave {prepared.input.shape}, the model reads {enc.input_shape}")
    if not np.allclose(prepared.grid.spacing, enc.spacing, rtol=1e-6, atol=1e-6):
        raise RuntimeError(f"preprocessing gave spacing {prepared.grid.spacing}, the model reads {enc.spacing}")
    return prepared


# ------------------------------------------------------------------------------------------ result

def observation_records(probabilities, guide=None) -> list[dict]:
    """18 probabilities in CT_RATE_LABELS order (or None) -> the draft's ``observations``; a label
    of the observation ``guide`` also carries its ``threshold`` (the draft states it from there)."""
    from ctrg_desktop.data.labels import CT_RATE_LABELS, LABEL_STRUCTURES

    if probabilities is None:
        return []
    values = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if values.shape != (len(CT_RATE_LABELS),):
        raise ValueError(f"{values.size} observation probabilities; the model should give {len(CT_RATE_LABELS)}")
    guided = guide.labels if guide is not None else {}
    return [{"label": label, "probability": round(float(p), 4), "structure": LABEL_STRUCTURES[label],
             **({"threshold": guided[label].threshold} if label in guided else {})}
            for label, p in zip(CT_RATE_LABELS, values)]


# ------------------------------------------------------------------------------------------ drafting

def _structure_set(structures, config):
    from ctrg_desktop.reports.structures import StructureSet, load_structure_set

    chosen = (structures if isinstance(structures, StructureSet)
              else load_structure_set(structures or config.structure_set))
    if len(chosen) != config.observer.num_structures:
        raise ValueError(f"structure set {chosen.name!r} has {len(chosen)} structures but the model observes "
                         f"{config.observer.num_structures}")
    return chosen


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _cpu_threads(device, threads: int | None):
    """Run a block with ``threads`` intra-op CPU threads (CPU devices only), restoring the count after."""
    import torch

    if device.type != "cpu" or not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_model(model, prepared, device, generation: dict, progress, decode_threads: int | None = DECODE_THREADS,
               retrieve=None):
    """(topk indices (N, K), attention (N, P), report text, encode s, decode s, observation
    probabilities (18,) or None) on ``device``. ``retrieve(logits (18,))`` -> a reference report
    ("" for none) fused into the decoder's input."""
    import torch

    model.to(device)
    x = torch.from_numpy(prepared.input)[None, None].to(device)
    with torch.no_grad():
        start = time.perf_counter()
        visual = model.encode(x)
        _sync(device)
        encoded = time.perf_counter()
        if progress:
            progress("decode")
        references = None
        if retrieve is not None and visual.observation_logits is not None:
            references = [retrieve(visual.observation_logits[0].float().cpu().numpy())]
        with _cpu_threads(device, decode_threads):
            text = model.decoder.generate(model.decoder_input(visual, references), **generation)[0]
        _sync(device)
        decoded = time.perf_counter()
    probabilities = visual.observation_probabilities()
    probabilities = None if probabilities is None else probabilities[0].float().cpu().numpy()
    return (visual.topk_indices[0].cpu().numpy(), visual.attention[0].float().cpu().numpy(), text,
            encoded - start, decoded - encoded, probabilities)


def _retriever(model, used: list, notes: list):
    """For a model with reference fusion: ``logits -> the nearest reference's report`` (appending
    it to ``used``), or None with a note when the model has no usable reference index."""
    if getattr(model, "fusion", None) is None:
        return None
    from ctrg_desktop.retrieval.similar import model_index

    try:
        index = model_index(model)
    except (CtrgError, ValueError) as exc:
        notes.append(f"drafted without a similar prior case: {exc}")
        return None

    def retrieve(logits) -> str:
        found = index.query(logits, k=1)
        if not found:
            return ""
        n = found[0]
        used.append({"name": n.name, "source": n.source, "distance": round(float(n.distance), 4)})
        return n.report

    return retrieve


def _patch_records(prepared, grid, indices: np.ndarray, attention: np.ndarray) -> list[list[dict]]:
    """Per structure, per rank: the patch's index, score and its place in the original study."""
    study = prepared.study
    boxes = prepared.patch_boxes_in_study(grid, indices)                # (N, K, 2, 3) study voxel edges
    centres_world = prepared.patch_centres_world(grid, indices)        # (N, K, 3) LPS mm
    centres_voxel = study.world_to_voxel(centres_world)                # (N, K, 3) k, j, i
    coords = grid.patch_coords(indices)                                # (N, K, 3) pk, pj, pi
    upper = np.asarray(study.shape, dtype=np.float64) - 0.5
    out = []
    for n in range(indices.shape[0]):
        rows = []
        for r in range(indices.shape[1]):
            v = centres_voxel[n, r]
            rows.append({"rank": r + 1, "index": int(indices[n, r]), "patch_kji": [int(c) for c in coords[n, r]],
                         "score": float(attention[n, indices[n, r]]),
                         "centre_voxel": [round(float(c), 4) for c in v],
                         "centre_world": [round(float(c), 3) for c in centres_world[n, r]],
                         "box_voxels": [[round(float(c), 4) for c in boxes[n, r, 0]],
                                        [round(float(c), 4) for c in boxes[n, r, 1]]],
                         "inside_study": bool(np.all(v >= -0.5) and np.all(v <= upper))})
        out.append(rows)
    return out


def draft_report(volume: Volume, model, device="auto", structures=None, *, num_beams: int = 3,
                 max_length: int | None = None, min_length: int = 1, no_repeat_ngram_size: int = 0,
                 repetition_penalty: float = 1.0, progress=None,
                 decode_threads: int | None = DECODE_THREADS, guide: bool = True,
                 retrieval: bool = True) -> DraftReport:
    """Generate a :class:`DraftReport` for ``volume`` (module docstring).

    ``model``: a loaded ``StructureReportModel`` or a model-zoo name / model folder (loaded here,
    timed as ``load``). ``device``: "auto" (cuda when available), "cpu", "cuda[:N]"; on CUDA out
    of memory the draft is redone on the CPU and a warning says so. ``structures``: the structure
    set routing the sentences (default: the model config's; a name, JSON path or ``StructureSet``
    of as many structures as the model observes). Generation settings go to
    ``ReportDecoder.generate`` (``max_length`` default: :func:`generation_budget`). The text is
    cleaned (module docstring). ``progress(stage)`` is called with "load", "preprocess", "encode",
    "decode" as each starts. ``decode_threads``: CPU threads while decoding (see :data:`DECODE_THREADS`;
    None keeps torch's setting). ``guide``: apply the model's observation guide, if it has one
    (:mod:`ctrg_desktop.reports.observation_guide`; the changes are warnings). ``retrieval``: for a
    model with reference fusion, fuse the nearest prior case of its reference index into the
    decoder (recorded in ``references``; without an index the draft says so in a warning).
    """
    import torch

    from ctrg_desktop.model.zoo import ModelInfo, config_hash, load_model
    from ctrg_desktop.reports.cleanup import clean_report
    from ctrg_desktop.reports.parser import parse_report

    started = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    dev = resolve_device(device)
    if isinstance(model, (str, os.PathLike)):
        if progress:
            progress("load")
        model = load_model(model, device="cpu")
        timings["load"] = time.perf_counter() - started
    config = model.config
    info = getattr(model, "zoo_info", None)
    if not isinstance(info, ModelInfo):
        info = ModelInfo(name="(not saved)", folder="", version="", config_hash=config_hash(config))
    structure_set = _structure_set(structures, config)
    generation = {"num_beams": int(num_beams), "max_length": int(max_length or generation_budget(config)),
                  "min_length": int(min_length), "no_repeat_ngram_size": int(no_repeat_ngram_size),
                  "repetition_penalty": float(repetition_penalty)}
    if generation["num_beams"] < 1 or generation["max_length"] < 2:
        raise ValueError(f"num_beams must be >= 1 and max_length >= 2, got {num_beams} and {max_length}")

    if progress:
        progress("preprocess")
    t0 = time.perf_counter()
    prepared = model_input(volume, config)
    timings["preprocess"] = time.perf_counter() - t0

    used: list[dict] = []
    retrieve = _retriever(model, used, notes) if retrieval else None
    was_training = model.training
    model.eval()
    try:
        if progress:
            progress("encode")
        try:
            indices, attention, raw, t_enc, t_dec, probs = _run_model(model, prepared, dev, generation, progress,
                                                                          decode_threads=decode_threads,
                                                                          retrieve=retrieve)
        except torch.cuda.OutOfMemoryError:
            if dev.type != "cuda":
                raise
            message = f"CUDA ran out of memory on {dev}; the draft was generated on the CPU instead"
            _warnings.warn(message, RuntimeWarning, stacklevel=2)
            notes.append(message)
            model.to("cpu")
            torch.cuda.empty_cache()
            dev = torch.device("cpu")
            indices, attention, raw, t_enc, t_dec, probs = _run_model(model, prepared, dev, generation, progress,
                                                                          decode_threads=decode_threads,
                                                                          retrieve=retrieve)
    finally:
        model.train(was_training)
    timings["encode"], timings["decode"] = t_enc, t_dec

    guide = getattr(model, "observation_guide", None) if guide else None
    observations = observation_records(probs, guide)
    cleaned = clean_report(raw, {o["label"]: o["probability"] for o in observations}, guide)
    text = cleaned.text
    notes += cleaned.warnings
    parsed = parse_report(text, structure_set)
    patches = _patch_records(prepared, config.encoder.grid, indices, attention)
    drafts = []
    for i, s in enumerate(structure_set.structures):
        sentences = [sent.text for sent in parsed.sentences if i in sent.structures]
        drafts.append(StructureDraft(index=i, name=s.name, colour=s.colour, sentences=sentences,
                                     text=" ".join(sentences) or structure_set.default_sentence(i),
                                     mentioned=bool(sentences), top_patches=patches[i]))
    if patches and not all(p["inside_study"] for rows in patches for p in rows):
        notes.append("some top patches lie in the padding outside the study (the model grid is larger than the study)")

    enc, window, grid = config.encoder, config.encoder.hu_window, config.encoder.grid
    preprocessing = {
        "spacing": list(enc.spacing), "input_shape": list(enc.input_shape), "patch": list(enc.patch),
        "grid_counts": list(grid.counts), "num_patches": grid.num_patches,
        "window": {"name": enc.window, "lo": window.lo, "hi": window.hi, "centre": window.centre,
                   "scale": window.scale},
        "crop_offsets": [int(o) for o in prepared.crop_offsets], "model_grid": prepared.grid.geometry.to_json(),
    }
    timings["total"] = time.perf_counter() - started
    study = {**volume.geometry.to_json(), "source": volume.series.source_path, "format": volume.series.source_format}
    return DraftReport(model={**info.to_dict(), "structure_set": config.structure_set,
                              "tokenizer": config.decoder.tokenizer},
                       study=study, preprocessing=preprocessing, generation=generation, device=str(dev),
                       report=text, structures=drafts,
                       timings={k: round(v, 4) for k, v in timings.items()}, warnings=notes,
                       created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                       attention=np.ascontiguousarray(attention, dtype=np.float32), raw_text=raw,
                       observations=observations, references=used[-1:])



__all__ = ["ATTENTION_SUFFIX", "DECODE_THREADS", "DEFAULT_GENERATION", "FORMAT", "FORMAT_VERSION",
           "REPORT_TOKEN_BUDGET", "TIMING_KEYS", "DraftReport", "StructureDraft", "attention_path_for",
           "draft_from_json", "draft_report", "generation_budget", "load_draft", "model_input",
           "observation_records"]
