"""The structure-query report model (pure PyTorch): CT-ViT encoder, structure observer,
structure-wise contrastive stage with a diversity queue, BERT report decoder."""

from ctrg_desktop.model.config import (DecoderConfig, EncoderConfig, ModelConfig, ObserverConfig,
                                       Stage1Config)
from ctrg_desktop.model.decoder import ReportDecoder, join_structure_texts
from ctrg_desktop.model.encoder import VolumeEncoder
from ctrg_desktop.model.losses import structure_contrastive_loss
from ctrg_desktop.model.observer import ObserverOutput, StructureObserver, select_top_patches
from ctrg_desktop.model.queue import DiversityQueue
from ctrg_desktop.model.registry import MODEL_CONFIGS, build_model
from ctrg_desktop.model.report_model import StructureReportModel, VisualOutput
from ctrg_desktop.model.text_encoder import TextEncoder, load_tokenizer, minilm_folder

__all__ = [
    "DecoderConfig", "DiversityQueue", "EncoderConfig", "MODEL_CONFIGS", "ModelConfig", "ObserverConfig",
    "ObserverOutput", "ReportDecoder", "Stage1Config", "StructureObserver", "StructureReportModel",
    "TextEncoder", "VisualOutput", "VolumeEncoder", "build_model", "join_structure_texts",
    "load_tokenizer", "minilm_folder", "select_top_patches", "structure_contrastive_loss",
]
