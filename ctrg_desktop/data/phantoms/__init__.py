"""Deterministic synthetic chest CT studies with CT-RATE style reports and labels.

``generate_study(seed, config)`` draws one study (volume, anatomical label map, the 18
CT-RATE labels, the drawn abnormalities with their voxel boxes, findings and impressions);
``generate_dataset(out, count, seed)`` writes many of them in the CT-RATE folder layout.
"""

from ctrg_desktop.data.phantoms.config import PhantomConfig
from ctrg_desktop.data.phantoms.dataset import generate_dataset
from ctrg_desktop.data.phantoms.generator import PhantomStudy, generate_study
from ctrg_desktop.data.phantoms.labelmap import (
           STRUCTURE_OF_LABEL,
           Tissue,
           label_legend,
           structure_of_label,
)

__all__ = ["PhantomConfig", "PhantomStudy", "STRUCTURE_OF_LABEL", "Tissue", "generate_dataset", "generate_study",
           "label_legend", "structure_of_label"]
