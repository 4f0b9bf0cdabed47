"""The 18 CT-RATE abnormalities: prevalence, drawing order and the function drawing each.

An abnormality may ``prepare`` the patient before the anatomy is drawn (a bigger heart, a
pericardial effusion), ``draw`` into the anatomy, or draw ``after_noise`` (sharp metal); it may
``measure`` its extent on the final image (emphysema severity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms import (
    airway_findings,
    cardiac_findings,
    devices,
    diffuse_findings,
    lung_findings,
    other_findings,
)


@dataclass(frozen=True)
class Abnormality:
    label: str
    prevalence: float                  # share of studies showing it (roughly CT-RATE's)
    draw: Callable                     # (Anatomy, rng) -> list[Detail]
    prepare: Callable | None = None    # (Patient, rng) -> None, before the anatomy is drawn
    after_noise: bool = False
    measure: Callable | None = None    # (Anatomy, its details) -> None, on the final image


#: In drawing order: anatomy changes first, diffuse lung changes before focal ones.
ABNORMALITIES: tuple[Abnormality, ...] = (
    Abnormality("Cardiomegaly", 0.11, cardiac_findings.describe_cardiomegaly, cardiac_findings.enlarge_heart),
    Abnormality("Pericardial effusion", 0.07, cardiac_findings.describe_pericardial_effusion,
                cardiac_findings.add_pericardial_fluid),
    Abnormality("Pleural effusion", 0.12, other_findings.draw_pleural_effusion),
    Abnormality("Mosaic attenuation pattern", 0.08, diffuse_findings.draw_mosaic),
    Abnormality("Interlobular septal thickening", 0.08, diffuse_findings.draw_septal_thickening),
    Abnormality("Emphysema", 0.19, diffuse_findings.draw_emphysema, measure=diffuse_findings.measure_emphysema),
    Abnormality("Atelectasis", 0.25, lung_findings.draw_atelectasis),
    Abnormality("Consolidation", 0.17, lung_findings.draw_consolidation),
    Abnormality("Lung opacity", 0.38, lung_findings.draw_ground_glass),
    Abnormality("Pulmonary fibrotic sequela", 0.26, lung_findings.draw_fibrotic_bands),
    Abnormality("Bronchiectasis", 0.10, airway_findings.draw_bronchiectasis),
    Abnormality("Peribronchial thickening", 0.11, airway_findings.draw_peribronchial_thickening),
    Abnormality("Lung nodule", 0.45, lung_findings.draw_nodules),
    Abnormality("Lymphadenopathy", 0.26, other_findings.draw_lymphadenopathy),
    Abnormality("Hiatal hernia", 0.14, other_findings.draw_hiatal_hernia),
    Abnormality("Arterial wall calcification", 0.28, cardiac_findings.draw_aortic_calcification),
    Abnormality("Coronary artery wall calcification", 0.24, cardiac_findings.draw_coronary_calcification),
    Abnormality("Medical material", 0.10, devices.draw_medical_material, after_noise=True),
)
BY_LABEL = {a.label: a for a in ABNORMALITIES}
assert sorted(BY_LABEL) == sorted(CT_RATE_LABELS)


def choose(rng, force: dict[str, bool] | None = None) -> set[str]:
    """Labels present in one study: one uniform draw per label (so forcing one leaves the
    others unchanged), overridden by ``force`` (label -> present)."""
    force = dict(force or {})
    unknown = sorted(set(force) - set(BY_LABEL))
    if unknown:
        raise ValueError(f"unknown CT-RATE label(s) in force: {', '.join(unknown)}")
    draws = rng.random(len(CT_RATE_LABELS))
    present = {label for label, u in zip(CT_RATE_LABELS, draws) if u < BY_LABEL[label].prevalence}
    present |= {label for label, on in force.items() if on}
    return present - {label for label, on in force.items() if not on}
