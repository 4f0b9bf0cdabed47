"""Growing a slice's mask through its neighbours with the real LiteMedSAM, and stopping at the end.

The lesion test inserts a soft-tissue ellipsoid (40 HU, semi-axes 16 x 14 x 12 mm) into the right
lung of the fixture phantom, so the exact 3D truth is known.
"""

import numpy as np
import pytest

from ctrg_desktop.data.phantoms import Tissue
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.segmentation import LUNG_WINDOW, PropagationCancelled, mask_box, propagate


def dice(a, b) -> float:
    return 2.0 * float((a & b).sum()) / max(1.0, float(a.sum() + b.sum()))


def slices_of(mask3d, axis=0) -> list[int]:
    other = tuple(a for a in range(3) if a != axis)
    return np.flatnonzero(mask3d.any(axis=other)).tolist()


@pytest.fixture(scope="module")
def lesion_study(phantom_study):
    """(HU volume with a lung lesion, its 3D mask, the lesion's largest slice)."""
    from scipy import ndimage

    labels = phantom_study.label_map
    lung = labels == Tissue.LUNG_RIGHT
    k0 = int(np.argmax(lung.sum(axis=(1, 2))))
    depth = ndimage.distance_transform_edt(lung[k0])
    j0, i0 = np.unravel_index(int(np.argmax(depth)), depth.shape)
    sk, sj, si = phantom_study.volume.spacing
    k, j, i = np.ogrid[:lung.shape[0], :lung.shape[1], :lung.shape[2]]
    lesion = ((k - k0) * sk / 16) ** 2 + ((j - j0) * sj / 14) ** 2 + ((i - i0) * si / 12) ** 2 <= 1
    lesion &= lung
    volume = phantom_study.volume.array.astype(np.float32)
    volume[lesion] = 40.0 + np.random.default_rng(0).normal(0.0, 15.0, int(lesion.sum()))
    return volume, lesion, k0


def test_propagation_follows_a_lung_lesion_and_stops_where_it_ends(lesion_study, lite_segmenter):
    volume, lesion, k0 = lesion_study
    start = lite_segmenter.predict(lite_segmenter.embed(volume[k0], LUNG_WINDOW, key=("lesion", 0, k0)),
                                   box=mask_box(lesion[k0]))
    seen = []
    calls = lite_segmenter.encoder_calls
    out = propagate(volume, 0, k0, start, lite_segmenter, window=LUNG_WINDOW, study_key="lesion",
                    progress=lambda done, planned: seen.append((done, planned)))
    truth = slices_of(lesion)
    got = slices_of(out)
    print(f"\nlesion slices {truth}, propagated {got}; 3D Dice {dice(out, lesion):.3f}; "
          f"start-slice Dice {dice(start, lesion[k0]):.3f}; {lite_segmenter.encoder_calls - calls} slices embedded")
    assert out.shape == volume.shape and out.dtype == bool
    assert len(got) >= 3 and got == list(range(got[0], got[-1] + 1))      # several contiguous slices
    assert truth[0] - 1 <= got[0] <= truth[0] + 1 and truth[-1] - 1 <= got[-1] <= truth[-1] + 1
    assert dice(out, lesion) > 0.6
    assert lite_segmenter.encoder_calls - calls <= len(got) + 1            # one per visited slice, stop ones too
    assert seen and seen[-1][0] == seen[-1][1]                             # progress ends at done == planned


def test_cancel_progress_and_limits(lesion_study, lite_segmenter):
    volume, lesion, k0 = lesion_study
    start = lesion[k0]
    calls = []
    with pytest.raises(PropagationCancelled) as info:
        propagate(volume, 0, k0, start, lite_segmenter, window=LUNG_WINDOW, study_key="lesion",
                  cancel=lambda: len(calls) >= 1, progress=lambda d, p: calls.append(d))
    assert info.value.mask[k0].sum() == start.sum() and info.value.mask.sum() >= start.sum()
    one = propagate(volume, 0, k0, start, lite_segmenter, window=LUNG_WINDOW, study_key="lesion",
                    max_slices=1, directions=(1,))
    assert set(slices_of(one)) <= {k0, k0 + 1}
    with pytest.raises(CtrgError, match="empty"):
        propagate(volume, 0, k0, np.zeros_like(start), lite_segmenter)
    with pytest.raises(CtrgError, match="start mask is"):
        propagate(volume, 1, 3, start, lite_segmenter)


@pytest.mark.slow
def test_propagation_through_the_phantom_heart(phantom_study, lite_segmenter):
    labels = phantom_study.label_map
    heart = labels == Tissue.HEART
    k = int(np.argmax(heart.sum(axis=(1, 2))))
    volume = phantom_study.volume.array
    start = lite_segmenter.predict(lite_segmenter.embed(volume[k], LUNG_WINDOW), box=mask_box(heart[k]))
    out = propagate(volume, 0, k, start, lite_segmenter, window=LUNG_WINDOW, study_key="phantom-heart")
    truth, got = slices_of(heart), slices_of(out)
    per_slice = [round(dice(out[n], heart[n]), 2) for n in got]
    print(f"\nheart slices {truth[0]}..{truth[-1]}, propagated {got[0]}..{got[-1]}; "
          f"3D Dice {dice(out, heart):.3f}; per slice {per_slice}")
    assert truth[0] - 2 <= got[0] <= truth[0] + 2 and truth[-1] - 2 <= got[-1] <= truth[-1] + 2
    assert dice(out, heart) > 0.75
