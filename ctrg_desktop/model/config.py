"""Model configuration: one dataclass per part, bundled in :class:`ModelConfig`.

The config is saved as JSON next to the weights (``config.json``) and a model is built with
``StructureReportModel(config)``. Presets: :meth:`ModelConfig.paper` (the seed paper's sizes),
:meth:`ModelConfig.demo` (trains on two CPU cores at the synthetic studies' grid) and
:meth:`ModelConfig.tiny` (unit tests).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

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

    def __post_init__(self):
        if self.kind not in ("paper", "bert"):
            raise ValueError(f"observer kind must be 'paper' or 'bert', got {self.kind!r}")
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

    def __post_init__(self):
        if self.queue_update not in ("diversity", "fifo"):
            raise ValueError(f"queue_update must be 'diversity' or 'fifo', got {self.queue_update!r}")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")


@dataclass
class DecoderConfig:
    """BERT-style report decoder cross-attending to the visual tokens [S; T].

    ``vocab_size`` must equal the tokenizer's size (30522 for MiniLM; checked at build time).
    ``init_from_text_encoder`` copies MiniLM weights wherever names and shapes match.
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


@dataclass
class ModelConfig:
    """All parts of the structure-query report model plus the structure set's name."""

    structure_set: str = "chest_ct"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    observer: ObserverConfig = field(default_factory=ObserverConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown or malformed fields raise ``ValueError``."""
        parts = {"encoder": EncoderConfig, "observer": ObserverConfig,
                 "stage1": Stage1Config, "decoder": DecoderConfig}
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
        return cls.from_dict(data)

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
                   stage1=Stage1Config(proj_dim=256, queue_size=256),
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


def _check_fields(cls, data, what: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(data).__name__}")
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"{what} has unknown fields: {sorted(unknown)}")
