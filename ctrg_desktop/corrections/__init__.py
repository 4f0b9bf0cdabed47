"""Corrections become training data: accepted reports as a de-identified CT-RATE-layout dataset."""

from ctrg_desktop.corrections.dataset import CorrectionsDataset, default_corrections_dir, split_of
from ctrg_desktop.corrections.phi import PhiHit, find_phi, phi_strings

__all__ = ["CorrectionsDataset", "PhiHit", "default_corrections_dir", "find_phi", "phi_strings", "split_of"]
