"""The training wizard (Tools > Train from corrections...): corrections -> a fine-tuned model in the zoo."""

from ctrg_desktop.app.wizard.wizard import TrainingWizard, open_training_wizard

__all__ = ["TrainingWizard", "open_training_wizard"]
