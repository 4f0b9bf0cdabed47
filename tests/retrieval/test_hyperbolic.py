"""Poincaré arithmetic against values worked out by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pytest

from ctrg_desktop.retrieval import hyperbolic as hb


def test_mobius_addition_by_hand():
    # c = 1, x = (0.5, 0), y = (0, 0.5): <x,y> = 0, |x|² = |y|² = 0.25
    # numerator = (1 + 0 + 0.25) x + (1 - 0.25) y = (0.625, 0.375); denominator = 1 + 0 + 0.25·0.25 = 1.0625
    out = hb.mobius_add([0.5, 0.0], [0.0, 0.5], c=1.0)
    assert out == pytest.approx([0.625 / 1.0625, 0.375 / 1.0625])
    # c = 2, x = (0.5, 0), y = (0.25, 0): <x,y> = 0.125, |x|² = 0.25, |y|² = 0.0625
    # numerator = (1 + 0.5 + 0.125)·0.5 + (1 - 0.5)·0.25 = 0.8125 + 0.125 = 0.9375
    # denominator = 1 + 0.5 + 4·0.25·0.0625 = 1.5625 -> 0.6
    assert hb.mobius_add([0.5, 0.0], [0.25, 0.0], c=2.0) == pytest.approx([0.6, 0.0])
    # x ⊕ 0 = x and (-x) ⊕ x = 0
    assert hb.mobius_add([0.3, -0.2], [0.0, 0.0]) == pytest.approx([0.3, -0.2])
    assert hb.mobius_add([-0.3, 0.2], [0.3, -0.2]) == pytest.approx([0.0, 0.0], abs=1e-12)


def test_distance_by_hand():
    # from the origin: (-0) ⊕ x = x, d = 2 artanh(0.5) = ln 3
    assert hb.distance([0.0, 0.0], [0.5, 0.0]) == pytest.approx(math.log(3))
    # x = (0.5, 0), y = (-0.5, 0), c = 1: a = -x = (-0.5, 0); <a,y> = 0.25, |a|² = |y|² = 0.25
    # numerator = (1 + 0.5 + 0.25)(-0.5) + 0.75·(-0.5) = -1.25; denominator = 1 + 0.5 + 0.0625 = 1.5625
    # |a ⊕ y| = 0.8, d = 2 artanh(0.8) = ln 9
    assert hb.distance([0.5, 0.0], [-0.5, 0.0]) == pytest.approx(math.log(9))
    # c = 2 from the origin to (0.5, 0): (2/√2) artanh(√2·0.5) = √2 · 0.5 ln((1 + 1/√2)/(1 - 1/√2))
    expected = math.sqrt(2) * 0.5 * math.log((1 + 1 / math.sqrt(2)) / (1 - 1 / math.sqrt(2)))
    assert hb.distance([0.0, 0.0], [0.5, 0.0], c=2.0) == pytest.approx(expected)
    assert expected == pytest.approx(1.246450, abs=1e-6)


def test_expmap0_and_clipping_by_hand():
    # v = (0.3, 0.4): |v| = 0.5, tanh(0.5) = 0.4621172 -> 0.4621172 · (0.6, 0.8)
    assert hb.expmap0([0.3, 0.4]) == pytest.approx([0.2772703, 0.3696938], abs=1e-6)
    # a long vector lands just inside the ball of radius 1/√c = 0.5 for c = 4
    far = hb.expmap0([300.0, 400.0], c=4.0)
    assert np.linalg.norm(far) <= 0.5 * (1 - hb.BALL_EPS) + 1e-12
    assert far == pytest.approx([0.3, 0.4], abs=1e-5)
    assert hb.project([3.0, 4.0], c=1.0) == pytest.approx(np.array([0.6, 0.8]) * (1 - hb.BALL_EPS))
    with pytest.raises(ValueError, match="curvature"):
        hb.expmap0([1.0, 0.0], c=0.0)


@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
def test_vectorised_distances_match_the_pairwise_formula(c):
    rng = np.random.default_rng(0)
    queries = hb.expmap0(rng.normal(size=(3, 8)), c)
    refs = hb.expmap0(rng.normal(size=(50, 8)), c)
    many = hb.distances_to_many(queries, refs, c)
    pairwise = hb.distance(queries[:, None, :], refs[None, :, :], c)
    assert many.shape == (3, 50)
    assert many == pytest.approx(pairwise, rel=1e-4, abs=1e-4)
    assert hb.distances_to_many(queries[0], refs, c) == pytest.approx(pairwise[0], rel=1e-4, abs=1e-4)
    # the distance to itself is 0 and the distance is symmetric
    assert hb.distances_to_many(refs[:4], refs[:4], c).diagonal() == pytest.approx(np.zeros(4), abs=2e-3)
    assert hb.distance(refs[0], refs[1], c) == pytest.approx(hb.distance(refs[1], refs[0], c))


def test_cosine_distances():
    # (1, 0) vs (0, 2): cos 0 -> 1; vs (-3, 0): cos -1 -> 2; vs (1, 1): 1 - 1/√2
    out = hb.cosine_distances_to_many([1.0, 0.0], [[0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    assert out == pytest.approx([1.0, 2.0, 1 - 1 / math.sqrt(2)])
