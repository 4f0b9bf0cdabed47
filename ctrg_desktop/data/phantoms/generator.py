"""One synthetic study: seed -> CT volume, label map, CT-RATE labels, details and report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms import abnormalities
from ctrg_desktop.data.phantoms.anatomy import build_anatomy
from ctrg_desktop.data.phantoms.config import PhantomConfig
from ctrg_desktop.data.phantoms.geometry import Grid
from ctrg_desktop.data.phantoms.patient import sample_patient
from ctrg_desktop.data.phantoms.report_text import write_report
from ctrg_desktop.io.volume import SeriesInfo, Volume

GENERATOR_NAME, GENERATOR_VERSION = "ctrg-desktop chest CT phantoms", "1.0"
_STREAMS = {"patient": 1, "presence": 2, "anatomy": 3, "noise": 4, "text": 5, "clinical": 6}
_CLINICAL = ("Cough.", "Shortness of breath.", "Follow-up.", "Fever and cough.", "Chest pain.", "Not given.",
             "Dyspnea.", "Malignancy screening.")
_SMOOTH_SIGMA = (0.35, 0.5, 0.5)   # voxels: partial-volume blur of the drawn image and of the noise


@dataclass
class PhantomStudy:
    """A synthetic chest CT with its ground truth.

    ``volume``: int16 HU, canonical LPS; ``label_map``: uint8 fine labels, same shape
    (see :func:`structure_of_label`); ``labels``: the 18 CT-RATE labels, 1 iff drawn;
    ``details``: one dict per drawn abnormality (label, structure, side, location, size_mm,
    bbox ``(k0, j0, i0, k1, j1, i1)`` stop exclusive, severity, extra).
    """

    seed: int
    volume: Volume
    label_map: np.ndarray
    labels: dict[str, int]
    findings: str
    impressions: str
    details: list[dict]
    sentences: list[tuple[str, str]] = field(default_factory=list)
    patient: dict = field(default_factory=dict)
    clinical_information: str = ""
    technique: str = ""


def _rng(seed: int, stream: str | int) -> np.random.Generator:
    key = _STREAMS[stream] if isinstance(stream, str) else stream
    return np.random.default_rng([int(seed), key])


def generate_study(seed: int, config: PhantomConfig | None = None,
                   force: dict[str, bool] | None = None) -> PhantomStudy:
    """Draw study ``seed`` on ``config``'s grid; ``force`` maps CT-RATE labels to present/absent."""
    config = (config or PhantomConfig()).validate()
    patient = sample_patient(_rng(seed, "patient"), config.contrast_fraction)
    present = abnormalities.choose(_rng(seed, "presence"), force)
    todo = [(a, _rng(seed, 100 + CT_RATE_LABELS.index(a.label))) for a in abnormalities.ABNORMALITIES
            if a.label in present]
    for a, rng in todo:
        if a.prepare:
            a.prepare(patient, rng)
    grid = Grid(config.shape, config.spacing, patient.angle_deg, patient.shift, patient.z_center)
    anat = build_anatomy(grid, patient, _rng(seed, "anatomy"))
    details = [d for a, rng in todo if not a.after_noise for d in a.draw(anat, rng)]
    _finish(anat.canvas, config.noise_hu, _rng(seed, "noise"))
    for a, _ in todo:
        if a.measure:
            a.measure(anat, [d for d in details if d.label == a.label])
    details += [d for a, rng in todo if a.after_noise for d in a.draw(anat, rng)]
    report = write_report(details, patient.sex == "F", _rng(seed, "text"))
    drawn = {d.label for d in details}
    return PhantomStudy(
        seed=int(seed),
        volume=_volume(anat.canvas.hu, config),
        label_map=anat.canvas.lab,
        labels={label: int(label in drawn) for label in CT_RATE_LABELS},
        findings=report.findings,
        impressions=report.impressions,
        details=[d.to_dict() for d in details],
        sentences=report.sentences,
        patient=patient.to_dict(),
        clinical_information=str(_rng(seed, "clinical").choice(_CLINICAL)),
        technique=_technique(config, patient.contrast),
    )


def _finish(canvas, noise_hu: float, rng) -> None:
    """Blur the drawn image slightly and add correlated Gaussian noise of std ``noise_hu``."""
    noise = rng.standard_normal(canvas.hu.shape, dtype=np.float32)
    canvas.hu += noise * np.float32(noise_hu / _blur_gain())
    ndimage.gaussian_filter(canvas.hu, _SMOOTH_SIGMA, output=canvas.hu, truncate=3.0)


def _blur_gain() -> float:
    """Std of unit white noise after the blur (to keep the noise at ``noise_hu``)."""
    delta = np.zeros((15, 15, 15), dtype=np.float64)
    delta[7, 7, 7] = 1
    return float(np.sqrt((ndimage.gaussian_filter(delta, _SMOOTH_SIGMA, truncate=3.0) ** 2).sum()))


def _volume(hu: np.ndarray, config: PhantomConfig) -> Volume:
    d, h, w = config.shape
    sk, sj, si = config.spacing
    origin = (-(w - 1) / 2 * si, -(h - 1) / 2 * sj, -(d - 1) / 2 * sk)
    array = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return Volume(array, config.spacing, origin, series=SeriesInfo(description="synthetic chest CT phantom",
                                                                    source_format="phantom", slice_count=d))


def _technique(config: PhantomConfig, contrast: bool) -> str:
    phase = "after intravenous contrast" if contrast else "without contrast"
    return f"Axial chest CT {phase}, {config.spacing[0]:g} mm sections."
