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

The result, :class:`DraftReport`, is plain data: ``to_json()`` gives a JSON-ready dict and
``save(path)`` writes it with the attention map (N structures x P patches, float32) as
``<stem>.attention.npy`` beside it; :func:`load_draft` reads both back for review without a model.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
import warnings as _warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ctrg_desktop import __version__
from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.devices import resolve_device
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.jsonable import jsonable

FORMAT = "ctrg-draft-report"
FORMAT_VERSION = 1
ATTENTION_SUFFIX = ".attention.npy"
DEFAULT_GENERATION = {"num_beams": 3, "max_length": None, "min_length": 1, "no_repeat_ngram_size": 0,
                      "repetition_penalty": 1.0}
#: Tokens a BERT-decoder draft may use unless asked otherwise ([CLS] and [SEP] included): a whole
#: report must fit. Findings of the synthetic training studies take 250 tokens on average, 323 at
#: the 99th percentile and 360 at most (2,400 studies of ``ctrg phantoms --seed 1``); CT-RATE's
#: reports were cut at 220 words. A model that ends its report earlier stops there.
REPORT_TOKEN_BUDGET = 384
TIMING_KEYS = ("read", "load", "preprocess", "encode", "decode", "total")
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

@dataclass
class StructureDraft:
    """One structure of a draft: its routed sentences and its most attended patches."""

    index: int
    name: str
    colour: str
    sentences: list[str]
    text: str                  #: the sentences joined, or the structure set's default sentence
    mentioned: bool            #: False when no generated sentence concerns the structure
    top_patches: list[dict]    #: rank, index, patch_kji, score, centre_voxel, centre_world, box_voxels, inside_study


@dataclass
class DraftReport:
    """A generated draft with everything needed to review it without the model (module docstring)."""

    model: dict
    study: dict
    preprocessing: dict
    generation: dict
    device: str
    report: str
    structures: list[StructureDraft]
    timings: dict
    warnings: list[str] = field(default_factory=list)
    created: str = ""
    ctrg_version: str = __version__
    attention: np.ndarray | None = field(default=None, repr=False)  #: (N, P) float32
    attention_file: str | None = None  #: set by :meth:`save` / :func:`load_draft` (name beside the JSON)
    raw_text: str = ""  #: the model's text before :func:`~ctrg_desktop.reports.cleanup.clean_report`
    #: {"label", "probability", "structure"} per CT-RATE label, in CT_RATE_LABELS order; [] without heads
    observations: list[dict] = field(default_factory=list)

    def structure(self, name: str) -> StructureDraft:
        for s in self.structures:
            if s.name == name:
                return s
        raise KeyError(f"no structure {name!r} in this draft; it has {', '.join(s.name for s in self.structures)}")

    def attention_grid(self, index: int) -> np.ndarray:
        """Structure ``index``'s attention over the patch grid, shaped (t, h, w) as the patches are numbered."""
        if self.attention is None:
            raise ValueError("this draft has no attention map (file missing)")
        return self.attention[index].reshape(self.preprocessing["grid_counts"])

    def add_timing(self, name: str, seconds: float) -> None:
        """Record a stage timed outside :func:`draft_report` (e.g. reading the study); total grows with it."""
        self.timings[name] = round(float(seconds), 4)
        self.timings["total"] = round(float(self.timings.get("total", 0.0)) + float(seconds), 4)
        self.timings = {k: self.timings[k] for k in sorted(self.timings, key=_timing_order)}

    def to_json(self) -> dict:
        """JSON-ready dict (the attention map itself lives in the ``.npy`` file named under ``attention``)."""
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created,
                "ctrg_version": self.ctrg_version, "model": self.model, "study": self.study,
                "preprocessing": self.preprocessing, "generation": self.generation, "device": self.device,
                "warnings": list(self.warnings), "report": self.report, "raw_text": self.raw_text,
                "observations": [dict(o) for o in self.observations],
                "structures": [asdict(s) for s in self.structures],
                "attention": {"file": self.attention_file,
                              "shape": [len(self.structures), int(self.preprocessing["num_patches"])],
                              "dtype": "float32", "rows": [s.name for s in self.structures],
                              "columns": "patch index (C order over the grid_counts of preprocessing)"},
                "timings": dict(self.timings)}
        return jsonable(data)

    def save(self, json_path, attention_path=None) -> Path:
        """Write the JSON to ``json_path`` and the attention map beside it; returns the JSON path."""
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        if self.attention is not None:
            attention_path = Path(attention_path) if attention_path else attention_path_for(json_path)
            with atomic_path(attention_path) as tmp, open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(self.attention, dtype=np.float32), allow_pickle=False)
            self.attention_file = (attention_path.name if attention_path.parent.resolve() == json_path.parent.resolve()
                                   else str(attention_path.resolve()))
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return json_path


def _timing_order(key: str) -> tuple[int, str]:
    """read, load, preprocess, encode, decode, any other stage, total."""
    order = {k: i for i, k in enumerate(TIMING_KEYS[:-1])}
    return (order.get(key, len(order)) if key != "total" else len(order) + 1, key)


def attention_path_for(json_path) -> Path:
    """``report.json`` -> ``report.attention.npy`` (same folder)."""
    json_path = Path(json_path)
    return json_path.with_name(json_path.name.removesuffix(".json") + ATTENTION_SUFFIX)


def load_draft(json_path, load_attention: bool = True) -> DraftReport:
    """Read a saved draft (and its attention map, without unpickling) back; ``CtrgError`` when malformed."""
    json_path = Path(json_path)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CtrgError(f"{json_path} is not valid JSON: {exc}") from exc
    return draft_from_json(data, json_path, load_attention)


def draft_from_json(data, json_path, load_attention: bool = True) -> DraftReport:
    """A draft from its parsed JSON (read from ``json_path``, beside which its attention map lies)."""
    json_path = Path(json_path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CtrgError(f"{json_path} is not a ctrg draft report (no \"format\": \"{FORMAT}\")")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CtrgError(f"{json_path} has draft format {data['format_version']}; this ctrg reads up to "
                        f"{FORMAT_VERSION}: update ctrg-desktop")
    try:
        structures = [StructureDraft(**s) for s in data["structures"]]
        draft = DraftReport(model=data["model"], study=data["study"], preprocessing=data["preprocessing"],
                            generation=data["generation"], device=data["device"], report=data["report"],
                            structures=structures, timings=data["timings"], warnings=list(data.get("warnings", [])),
                            created=data.get("created", ""), ctrg_version=data.get("ctrg_version", ""),
                            attention_file=(data.get("attention") or {}).get("file"),
                            raw_text=data.get("raw_text", data["report"]),
                            observations=_read_observations(data.get("observations")))
    except (KeyError, TypeError) as exc:
        raise CtrgError(f"{json_path} is a malformed draft report: missing or bad field {exc}") from exc
    if load_attention and draft.attention_file:
        path = Path(draft.attention_file)
        path = path if path.is_absolute() else json_path.parent / path
        if path.is_file():
            try:
                attention = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise CtrgError(f"cannot read the attention map {path}: {exc}") from exc
            expected = (len(structures), int(draft.preprocessing["num_patches"]))
            if attention.shape != expected:
                raise CtrgError(f"attention map {path} has shape {attention.shape}, the draft expects {expected}")
            draft.attention = attention.astype(np.float32, copy=False)
        else:
            draft.warnings.append(f"attention map {path.name} not found beside the report")
    return draft


def _read_observations(value) -> list[dict]:
    """A saved draft's observations (absent in drafts of older versions: [])."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(o, dict) and {"label", "probability"} <= set(o)
                                              for o in value):
        raise TypeError("'observations' (a list of {label, probability, structure})")
    return [{"label": str(o["label"]), "probability": float(o["probability"]), "structure": o.get("structure"),
             **({"threshold": float(o["threshold"])} if o.get("threshold") is not None else {})}
            for o in value]


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


def _run_model(model, prepared, device, generation: dict, progress, decode_threads: int | None = DECODE_THREADS):
    """(topk indices (N, K), attention (N, P), report text, encode s, decode s, observation
    probabilities (18,) or None) on ``device``."""
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
        with _cpu_threads(device, decode_threads):
            text = model.decoder.generate(visual.decoder_tokens(), **generation)[0]
        _sync(device)
        decoded = time.perf_counter()
    probabilities = visual.observation_probabilities()
    probabilities = None if probabilities is None else probabilities[0].float().cpu().numpy()
    return (visual.topk_indices[0].cpu().numpy(), visual.attention[0].float().cpu().numpy(), text,
            encoded - start, decoded - encoded, probabilities)


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
                 decode_threads: int | None = DECODE_THREADS, guide: bool = True) -> DraftReport:
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
    (:mod:`ctrg_desktop.reports.observation_guide`; the changes are warnings).
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

    was_training = model.training
    model.eval()
    try:
        if progress:
            progress("encode")
        try:
            indices, attention, raw, t_enc, t_dec, probs = _run_model(model, prepared, dev, generation, progress,
                                                                          decode_threads=decode_threads)
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
                                                                          decode_threads=decode_threads)
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
                       observations=observations)

