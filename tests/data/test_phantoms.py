"""The phantom generator: determinism, plausible anatomy, and reports that agree with the image."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms import (
    PhantomConfig,
    Tissue,
    generate_study,
    label_legend,
    structure_of_label,
)
from tests.data import phantom_checks as pc

DEFAULT = PhantomConfig()
SMALL = PhantomConfig(shape=(48, 64, 64), spacing=(6.0, 5.0, 5.0))
OFF = {label: False for label in CT_RATE_LABELS}
SEEDS = (11, 12)
ANATOMY_CHANGING = ("Cardiomegaly", "Pericardial effusion")


@functools.lru_cache(maxsize=None)
def study(seed: int, *labels: str, small: bool = False):
    """Study ``seed`` with exactly ``labels`` present (none: the normal baseline)."""
    return generate_study(seed, SMALL if small else DEFAULT, force={**OFF, **{label: True for label in labels}})


# ---- determinism and format ----------------------------------------------------------------

def test_same_seed_same_study_other_seed_differs():
    a, b, c = (generate_study(s, SMALL) for s in (5, 5, 6))
    assert np.array_equal(a.volume.array, b.volume.array) and np.array_equal(a.label_map, b.label_map)
    assert (a.findings, a.impressions, a.labels, a.details) == (b.findings, b.impressions, b.labels, b.details)
    assert not np.array_equal(a.volume.array, c.volume.array)
    assert a.findings != c.findings


def test_volume_and_label_map_format():
    s = study(11, small=True)
    assert s.volume.array.dtype == np.int16 and s.volume.shape == SMALL.shape
    assert s.volume.spacing == SMALL.spacing and s.volume.orientation_code() == "LPS"
    assert s.label_map.dtype == np.uint8 and s.label_map.shape == SMALL.shape
    legend, structures = label_legend(), set(pc.structure_keywords())
    assert set(np.unique(s.label_map)) - {0} <= {int(k) for k in legend}
    assert set(structure_of_label().values()) == structures
    assert {v["structure"] for v in legend.values()} == structures


def test_config_validation_and_full_size():
    with pytest.raises(ValueError):
        PhantomConfig(shape=(8, 64, 64))
    with pytest.raises(ValueError):
        PhantomConfig(spacing=(0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="too small for a chest"):
        PhantomConfig(shape=(16, 32, 32), spacing=(6.0, 5.0, 5.0))
    full = PhantomConfig.full_size()
    assert full.shape == (240, 480, 480) and full.spacing == (1.5, 0.75, 0.75)
    with pytest.raises(ValueError, match="unknown CT-RATE label"):
        generate_study(1, SMALL, force={"Pneumothorax": True})


# ---- anatomy -------------------------------------------------------------------------------

def _median(s, *labels) -> float:
    return float(np.median(s.volume.array[np.isin(s.label_map, labels)]))


@pytest.mark.parametrize("seed", SEEDS)
def test_hu_plausible_per_tissue(seed):
    s = study(seed)
    blood = 150 if s.patient["contrast"] else 0
    assert _median(s, *pc.LUNGS) < -700
    assert _median(s, Tissue.BACKGROUND) < -950
    assert -130 < _median(s, Tissue.FAT) < -70 and -120 < _median(s, Tissue.MEDIASTINAL_FAT) < -50
    assert 20 < _median(s, Tissue.MUSCLE) < 70
    assert blood - 10 < _median(s, Tissue.AORTA) < blood + 120
    assert 0 < _median(s, Tissue.HEART) < 300
    assert _median(s, Tissue.VERTEBRA) > 200 and _median(s, Tissue.RIB, Tissue.STERNUM) > 200
    assert 40 < _median(s, Tissue.LIVER) < 130 and 70 < _median(s, Tissue.THYROID) < 170
    assert _median(s, Tissue.TRACHEA) < -600
    liver = s.volume.array[s.label_map == Tissue.LIVER].astype(float)
    assert 8 < liver.std() < 25       # the configured 15 HU noise


def test_anatomy_layout_in_axial_slices():
    """Heart anterior and left of the spine, spine posterior, lungs on both sides, liver on the right."""
    s = study(11)
    cent = {t: np.argwhere(s.label_map == t).mean(0) for t in (Tissue.HEART, Tissue.VERTEBRA, Tissue.LUNG_RIGHT,
                                                                 Tissue.LUNG_LEFT, Tissue.LIVER, Tissue.SPLEEN)}
    assert cent[Tissue.HEART][1] < cent[Tissue.VERTEBRA][1]            # rows grow posteriorly
    assert cent[Tissue.HEART][2] > cent[Tissue.VERTEBRA][2]            # columns grow to the left
    assert cent[Tissue.LUNG_RIGHT][2] < cent[Tissue.VERTEBRA][2] < cent[Tissue.LUNG_LEFT][2]
    assert cent[Tissue.LIVER][2] < cent[Tissue.SPLEEN][2]
    assert cent[Tissue.LIVER][0] < cent[Tissue.HEART][0] < cent[Tissue.LUNG_RIGHT][0] + 20
    assert (s.label_map == Tissue.RIB).any(axis=(1, 2)).sum() > 0.6 * s.volume.shape[0]
    assert pc.cardiothoracic_ratio(s.label_map) < 0.5


# ---- each label, forced on against the normal baseline -------------------------------------

def _check_medical_material(on, off):
    assert on.volume.array.max() >= 2000 and (on.label_map == Tissue.DEVICE).any()
    assert off.volume.array.max() < 1500 and not (off.label_map == Tissue.DEVICE).any()


def _check_arterial(on, off):
    assert pc.calcified(on, Tissue.AORTA) >= 1 and pc.calcified(off, Tissue.AORTA) == 0


def _check_cardiomegaly(on, off):
    ctr = pc.cardiothoracic_ratio(on.label_map)
    assert ctr > 0.5 > pc.cardiothoracic_ratio(off.label_map)
    assert abs(on.details[0]["extra"]["ctr"] - ctr) < 0.02
    assert on.details[0]["severity"] == ("mild" if ctr < 0.6 else "moderate")


def _pericardial_fluid_ml(s) -> float:
    a = s.volume.array
    fluid = (s.label_map == Tissue.PERICARDIUM) & (a > -20) & (a < 45)
    return fluid.sum() * np.prod(s.volume.spacing) / 1000


def _check_pericardial(on, off):
    assert _pericardial_fluid_ml(on) > 50 > 5 > _pericardial_fluid_ml(off)


def _check_coronary(on, off):
    assert pc.calcified(on, Tissue.HEART) >= 1 and pc.calcified(off, Tissue.HEART) == 0


def _check_hernia(on, off):
    assert pc.hernia_voxels(on) > 50 and pc.hernia_voxels(off) == 0


def _check_nodes(on, off):
    sizes = pc.node_short_axes(on)
    assert max(pc.node_short_axes(off), default=0) < 10 < max(sizes)
    for d in on.details:
        assert d["size_mm"] > 10 and any(abs(s - d["size_mm"]) <= 0.3 * d["size_mm"] for s in sizes)


def _check_emphysema(on, off):
    share = pc.lung_share_below(on, -950)
    assert share > 0.01 > 0.003 > pc.lung_share_below(off, -950)
    d = on.details[0]
    assert abs(d["extra"]["share"] - share) < 0.005
    assert d["severity"] == ("mild" if share < 0.05 else "moderate" if share < 0.1 else "severe")


def _lung_changes(on, off, label):
    """Changed voxels (k, j, i) that were lung in the baseline, and their HU in the study."""
    diff = pc.changed(on, off) & np.isin(off.label_map, pc.LUNGS + (Tissue.BRONCHI,))
    assert diff.sum() > 10, label
    return np.argwhere(diff), on.volume.array[diff]


def _check_side(on, off, idx):
    """Changes lie in the reported lung(s): one side only, or both when reported bilateral/both."""
    sides = {d["side"] for d in on.details}
    before = off.label_map[tuple(idx.T)]
    seen = {side for side, t in (("right", Tissue.LUNG_RIGHT), ("left", Tissue.LUNG_LEFT)) if (before == t).any()}
    assert seen <= sides or "bilateral" in sides or sides == {"right", "left"}


def _density_check(low, high):
    def check(on, off):
        idx, hu = _lung_changes(on, off, "density")
        assert low < np.median(hu) < high
        _check_side(on, off, idx)
    return check


def _check_atelectasis(on, off):
    _density_check(-250, 100)(on, off)
    idx, _ = _lung_changes(on, off, "atelectasis")
    lung_k = np.argwhere(np.isin(off.label_map, pc.LUNGS))[:, 0]
    assert idx[:, 0].mean() < np.median(lung_k)


def _check_nodules(on, off):
    for d in on.details:
        box = pc.box_slices(d["bbox"], pad=2, shape=on.volume.shape)
        core = [(np.asarray(s.volume.array[box]) > -400).sum() for s in (on, off)]
        volume = (core[0] - core[1]) * np.prod(on.volume.spacing)
        diameter = (6 * volume / np.pi) ** (1 / 3)
        assert abs(diameter - d["size_mm"]) <= 0.3 * d["size_mm"], (diameter, d["size_mm"])
        centre = [(a + b) // 2 for a, b in zip(d["bbox"][:3], d["bbox"][3:])]
        lung = Tissue.LUNG_RIGHT if d["side"] == "right" else Tissue.LUNG_LEFT
        assert off.label_map[tuple(centre)] == lung
        assert f"{round(d['size_mm'])} mm" in on.findings


def _check_pleural_effusion(on, off):
    for d in on.details:
        lung = Tissue.LUNG_RIGHT if d["side"] == "right" else Tissue.LUNG_LEFT
        fluid = (off.label_map == lung) & (on.label_map == Tissue.PLEURA)
        assert -10 < np.median(on.volume.array[fluid]) < 35
        assert np.argwhere(fluid)[:, 1].mean() > np.argwhere(off.label_map == lung)[:, 1].mean()
        thickness = fluid.sum(axis=1).max() * on.volume.spacing[1]
        assert abs(thickness - d["size_mm"]) <= 0.35 * d["size_mm"] + on.volume.spacing[1]
        assert f"{round(d['size_mm'])} mm" in on.findings and d["severity"] in on.findings.lower()


def _check_mosaic(on, off):
    lung = np.isin(off.label_map, pc.LUNGS)
    delta = on.volume.array.astype(int) - off.volume.array
    assert (lung & (delta < -30)).sum() > 300 and (lung & (delta > 30)).sum() > 150


def _check_peribronchial(on, off):
    """Lung turned into dense bronchial wall; the changes make the image denser."""
    diff = pc.changed(on, off)
    new_wall = (on.label_map == Tissue.BRONCHI) & np.isin(off.label_map, pc.LUNGS) & (on.volume.array > -500)
    assert new_wall.sum() > 100 and (on.label_map[diff] == Tissue.BRONCHI).mean() > 0.4
    assert (on.volume.array[diff] > off.volume.array[diff]).mean() > 0.8


def _check_bronchiectasis(on, off):
    """Lung turned into wide air-filled bronchi with walls (lumen wider than the normal bronchi)."""
    new = (on.label_map == Tissue.BRONCHI) & np.isin(off.label_map, pc.LUNGS)
    darker = on.volume.array < off.volume.array.astype(int) - 60
    assert (new & darker).sum() > 20 and (new & (on.volume.array > -500)).sum() > 20
    assert max(d["size_mm"] for d in on.details) >= 2 * on.volume.spacing[2]


CHECKS = {
    "Medical material": _check_medical_material, "Arterial wall calcification": _check_arterial,
    "Cardiomegaly": _check_cardiomegaly, "Pericardial effusion": _check_pericardial,
    "Coronary artery wall calcification": _check_coronary, "Hiatal hernia": _check_hernia,
    "Lymphadenopathy": _check_nodes, "Emphysema": _check_emphysema, "Atelectasis": _check_atelectasis,
    "Lung nodule": _check_nodules, "Lung opacity": _density_check(-650, -250),
    "Pulmonary fibrotic sequela": _density_check(-800, 100), "Pleural effusion": _check_pleural_effusion,
    "Mosaic attenuation pattern": _check_mosaic, "Peribronchial thickening": _check_peribronchial,
    "Consolidation": _density_check(-150, 100), "Bronchiectasis": _check_bronchiectasis,
    "Interlobular septal thickening": _density_check(-700, -200),
}


@pytest.mark.parametrize("label", CT_RATE_LABELS)
def test_forced_label_is_drawn_reported_and_visible(label):
    for seed in SEEDS:
        on, off = study(seed, label), study(seed)
        assert on.labels == {k: int(k == label) for k in CT_RATE_LABELS}
        assert on.details and {d["label"] for d in on.details} == {label}
        assert pc.positive_labels(on.findings) == {label} and pc.positive_labels(off.findings) == set()
        if label not in ANATOMY_CHANGING:
            diff = pc.changed(on, off)
            inside = np.zeros_like(diff)
            for d in on.details:
                inside[pc.box_slices(d["bbox"], pad=2, shape=diff.shape)] = True
            assert diff.any() and not (diff & ~inside).any()
        CHECKS[label](on, off)


# ---- natural mixtures ----------------------------------------------------------------------

def _detected(s) -> dict[str, bool]:
    a, lab = s.volume.array, s.label_map
    return {
        "Medical material": a.max() >= 1500,
        "Arterial wall calcification": pc.calcified(s, Tissue.AORTA) > 0,
        "Coronary artery wall calcification": pc.calcified(s, Tissue.HEART) > 0,
        "Cardiomegaly": pc.cardiothoracic_ratio(lab) > 0.5,
        "Pericardial effusion": _pericardial_fluid_ml(s) > 25,
        "Hiatal hernia": pc.hernia_voxels(s) > 0,
        "Lymphadenopathy": max(pc.node_short_axes(s), default=0) > 10,
        "Emphysema": pc.lung_share_below(s, -950) > 0.005,
    }


@pytest.mark.parametrize("seed", range(100, 106))
def test_mixture_labels_text_and_image_agree(seed):
    s = generate_study(seed, DEFAULT)
    present = {k for k, v in s.labels.items() if v}
    assert present == {d["label"] for d in s.details}
    assert pc.positive_labels(s.findings) == present
    assert pc.positive_labels(s.impressions) <= present
    for label, seen in _detected(s).items():
        assert seen == (label in present), label


TOGGLED = ("Mosaic attenuation pattern", "Interlobular septal thickening", "Emphysema", "Atelectasis",
           "Consolidation", "Lung opacity", "Pulmonary fibrotic sequela", "Bronchiectasis",
           "Peribronchial thickening", "Lung nodule", "Arterial wall calcification",
           "Coronary artery wall calcification", "Medical material")


def test_absent_label_leaves_no_trace_among_others():
    """Removing one finding from a study with many changes the image only inside its boxes."""
    full = study(21, *TOGGLED)
    for label in TOGGLED:
        less = study(21, *(t for t in TOGGLED if t != label))
        assert less.labels[label] == 0 and label not in pc.positive_labels(less.findings)
        inside = np.zeros(full.volume.shape, dtype=bool)
        for d in full.details:
            if d["label"] == label:
                inside[pc.box_slices(d["bbox"], pad=2, shape=inside.shape)] = True
        diff = full.volume.array != less.volume.array
        assert diff.any() and not (diff & ~inside).any(), label


# ---- report text ---------------------------------------------------------------------------

def test_every_sentence_lands_in_its_structure():
    keywords = structure_keywords = pc.structure_keywords()
    studies = [generate_study(seed, SMALL) for seed in range(12)] + [study(3, *CT_RATE_LABELS, small=True)]
    for s in studies:
        assert " ".join(t for _, t in s.sentences) == s.findings
        assert pc.split_sentences(s.findings) == [t.rstrip(".") for _, t in s.sentences]
        assert {st for st, _ in s.sentences} == set(structure_keywords)
        for structure, sentence in s.sentences:
            assert pc.matches(sentence, keywords[structure]), (structure, sentence)


def test_reports_vary_and_stay_in_length():
    studies = [generate_study(seed, SMALL) for seed in range(30, 50)]
    words = [len(s.findings.split()) for s in studies]
    assert 80 <= min(words) and max(words) <= 250
    assert len({s.findings.split(".")[0] for s in studies}) >= 4
    assert len({t for s in studies for _, t in s.sentences}) > 60
    normal = [s for s in studies if not any(s.labels.values())]
    assert all(s.impressions for s in studies)
    assert all("No" in s.impressions or "Normal" in s.impressions for s in normal)
