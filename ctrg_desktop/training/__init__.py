"""Training of the structure-query model: datasets, LR schedule, checkpoints, DDP, the loop and
the ``ctrg train`` entry (:func:`ctrg_desktop.training.cli.add_train_parser`).

Heavy modules are imported lazily: ``from ctrg_desktop.training.loop import train``.
"""

from ctrg_desktop.training.config import TrainConfig
from ctrg_desktop.training.schedule import lr_at

__all__ = ["TrainConfig", "lr_at"]
