"""A draft report as plain data: :class:`DraftReport` (and one :class:`StructureDraft` per
structure), its JSON and its files (the JSON and the attention map beside it), read back by
:func:`load_draft` for review without a model. :mod:`ctrg_desktop.inference` makes them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ctrg_desktop import __version__
from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.errors import CtrgError, check_format
from ctrg_desktop.jsonable import jsonable

FORMAT = "ctrg-draft-report"
FORMAT_VERSION = 1
ATTENTION_SUFFIX = ".attention.npy"
TIMING_KEYS = ("read", "load", "preprocess", "encode", "decode", "total")

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
    #: the similar prior case(s) fused into the decoder: {"name", "source", "distance"}; [] without
    references: list[dict] = field(default_factory=list)

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
                "references": [dict(r) for r in self.references],
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
    check_format(data, FORMAT, FORMAT_VERSION, f"{json_path} is a ctrg draft report")
    try:
        structures = [StructureDraft(**s) for s in data["structures"]]
        draft = DraftReport(model=data["model"], study=data["study"], preprocessing=data["preprocessing"],
                            generation=data["generation"], device=data["device"], report=data["report"],
                            structures=structures, timings=data["timings"], warnings=list(data.get("warnings", [])),
                            created=data.get("created", ""), ctrg_version=data.get("ctrg_version", ""),
                            attention_file=(data.get("attention") or {}).get("file"),
                            raw_text=data.get("raw_text", data["report"]),
                            observations=_read_observations(data.get("observations")),
                            references=[dict(r) for r in data.get("references") or [] if isinstance(r, dict)])
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
