"""The structure-query report model (pure PyTorch): CT-ViT encoder, structure observer,
structure-wise contrastive stage with a diversity queue, BERT report decoder.

Importing the package loads no torch: the configs are imported with it, every other name below
from its module on first use, so the light modules (:mod:`~ctrg_desktop.model.config`,
:mod:`~ctrg_desktop.model.catalogue`) serve processes that never load torch (the GUI).
"""

from ctrg_desktop.lazy import lazy_exports
from ctrg_desktop.model.config import DecoderConfig, EncoderConfig, ModelConfig, ObserverConfig, Stage1Config

_LAZY = {
    "ReportDecoder": "decoder", "join_structure_texts": "decoder",
    "VolumeEncoder": "encoder",
    "structure_contrastive_loss": "losses",
    "ObserverOutput": "observer", "StructureObserver": "observer", "select_top_patches": "observer",
    "DiversityQueue": "queue",
    "MODEL_CONFIGS": "registry", "build_model": "registry",
    "StructureReportModel": "report_model", "VisualOutput": "report_model",
    "TextEncoder": "text_encoder", "load_tokenizer": "text_encoder", "minilm_folder": "text_encoder",
}
__all__ = [
    "DecoderConfig", "DiversityQueue", "EncoderConfig", "MODEL_CONFIGS", "ModelConfig", "ObserverConfig",
    "ObserverOutput", "ReportDecoder", "Stage1Config", "StructureObserver", "StructureReportModel",
    "TextEncoder", "VisualOutput", "VolumeEncoder", "build_model", "join_structure_texts", "load_tokenizer",
    "minilm_folder", "select_top_patches", "structure_contrastive_loss",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
