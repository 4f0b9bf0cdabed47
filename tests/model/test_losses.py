import math

import pytest
import torch
import torch.nn.functional as F

from ctrg_desktop.model import structure_contrastive_loss
from ctrg_desktop.model.losses import mask_attention_loss, observation_loss, structure_logits


def _features(b=4, n=3, d=8, seed=0):
    torch.manual_seed(seed)
    return F.normalize(torch.randn(b, n, d), dim=-1), F.normalize(torch.randn(b, n, d), dim=-1)


def test_alpha_zero_is_plain_cross_entropy():
    image, text = _features()
    out = structure_contrastive_loss(image, text, alpha=0.0, temperature=0.1)
    expected = sum(F.cross_entropy(image[:, n] @ text[:, n].T / 0.1, torch.arange(4)) for n in range(3)) / 3
    assert torch.allclose(out["loss"], expected, atol=1e-6)


def test_kl_switch_and_mixing():
    image, text = _features()
    plain = structure_contrastive_loss(image, text, use_kl=False)
    mixed = structure_contrastive_loss(image, text, alpha=0.2)
    assert torch.allclose(plain["loss"], plain["itc"])
    assert torch.allclose(mixed["loss"], 0.8 * mixed["itc"] + 0.2 * mixed["kl"])


def test_perfect_alignment_gives_low_loss():
    _, text = _features(b=8, d=32)
    aligned = structure_contrastive_loss(text, text, temperature=0.05)["loss"]
    random = structure_contrastive_loss(_features(b=8, d=32, seed=1)[0], text, temperature=0.05)["loss"]
    assert aligned < 0.05 < random


def test_empty_queue_slots_are_ignored():
    image, text = _features()
    queue = F.normalize(torch.randn(3, 5, 8), dim=-1)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    with_empty = structure_contrastive_loss(image, text, queue, mask)
    without = structure_contrastive_loss(image, text)
    assert torch.allclose(with_empty["loss"], without["loss"], atol=1e-5)
    mask[:, :2] = True
    assert not torch.allclose(structure_contrastive_loss(image, text, queue, mask)["loss"], without["loss"])


def test_logits_layout_holds_every_structures_queue():
    image, text = _features()
    queue = F.normalize(torch.randn(3, 5, 8), dim=-1)
    logits = structure_logits(image, text, queue, None, 0.5)
    assert logits.shape == (3, 4, 4 + 3 * 5)
    assert torch.allclose(logits[2, 1, 4 + 2 * 5 + 3], image[1, 2] @ queue[2, 3] / 0.5)  # own entry
    assert torch.allclose(logits[2, 1, 4 + 0 * 5 + 3], image[1, 2] @ queue[0, 3] / 0.5)  # another structure's
    assert torch.allclose(logits[2, 1, 0], image[1, 2] @ text[0, 2] / 0.5)


def test_other_structure_weight_adds_its_log_to_their_logits():
    image, text = _features()
    queue = F.normalize(torch.randn(3, 5, 8), dim=-1)
    plain = structure_logits(image, text, queue, None, 0.5)
    weighted = structure_logits(image, text, queue, None, 0.5, other_weight=0.1)
    assert torch.allclose(weighted[2, 1, 4 + 0 * 5 + 3], plain[2, 1, 4 + 0 * 5 + 3] + math.log(0.1))
    assert torch.allclose(weighted[2, 1, 4 + 2 * 5 + 3], plain[2, 1, 4 + 2 * 5 + 3])
    assert torch.allclose(weighted[:, :, :4], plain[:, :, :4])


def test_eq3_by_hand_with_own_and_other_negatives():
    """One study, two structures, one queue entry each: the loss of structure 0 by hand."""
    image = F.normalize(torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), dim=-1)  # (B=1, N=2, d=2)
    text = F.normalize(torch.tensor([[[0.6, 0.8], [0.8, 0.6]]]), dim=-1)
    queue = F.normalize(torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]]), dim=-1)  # (N=2, Q=1, d)
    t = 0.5
    out = structure_contrastive_loss(image, text, queue, None, temperature=t, use_kl=False, other_weight=0.5)
    # structure 0: positive 0.6/t; own queue 0/t; other structure's entry (1.0)/t + log 0.5
    s0 = -0.6 / t + math.log(math.exp(0.6 / t) + math.exp(0.0) + 0.5 * math.exp(1.0 / t))
    # structure 1: positive 0.6/t; other structure's entry (0,1).(0,1)=1 -> weighted; own (1,0).(0,1)=0
    s1 = -0.6 / t + math.log(math.exp(0.6 / t) + 0.5 * math.exp(1.0 / t) + math.exp(0.0))
    assert out["loss"].item() == pytest.approx((s0 + s1) / 2, rel=1e-5)
    own_only = structure_contrastive_loss(image, text, queue, None, temperature=t, use_kl=False, other_weight=0.0)
    expected = -0.6 / t + math.log(math.exp(0.6 / t) + 1.0)
    assert own_only["loss"].item() == pytest.approx(expected, rel=1e-5)


def test_mask_attention_loss_by_hand():
    attention = torch.tensor([[[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]]])  # (B=1, N=2, P=3)
    coverage = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]])  # (B, P, N): structure 1 absent
    loss = mask_attention_loss(attention, coverage, power=2.0)
    # target of structure 0: (0.5, 0.5, 0); KL = 0.5 ln(0.5/0.5) + 0.5 ln(0.5/0.25)
    assert loss.item() == pytest.approx(0.5 * math.log(2.0), rel=1e-5)
    coverage_half = torch.tensor([[[1.0, 0.0], [0.5, 0.0], [0.0, 0.0]]])
    # power 2: target (1, 0.25)/1.25 = (0.8, 0.2, 0)
    expected = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.25)
    assert mask_attention_loss(attention, coverage_half, power=2.0).item() == pytest.approx(expected, rel=1e-5)
    assert mask_attention_loss(attention, coverage, valid=torch.tensor([False])).item() == 0.0


def test_mask_attention_loss_pulls_attention_into_the_mask():
    logits = torch.zeros(1, 1, 6, requires_grad=True)
    coverage = torch.tensor([[[1.0], [1.0], [0.0], [0.0], [0.0], [0.0]]])
    optimizer = torch.optim.SGD([logits], lr=1.0)
    for _ in range(100):
        optimizer.zero_grad()
        mask_attention_loss(logits.softmax(-1), coverage).backward()
        optimizer.step()
    assert logits.softmax(-1)[0, 0, :2].sum() > 0.95


def test_observation_loss_skips_unknown_labels():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    labels = torch.tensor([[1, -1, 0]])
    expected = (math.log(2.0) + math.log(1 + math.exp(-1.0))) / 2
    assert observation_loss(logits, labels).item() == pytest.approx(expected, rel=1e-5)
    weighted = observation_loss(logits, labels, pos_weight=torch.tensor([3.0, 1.0, 1.0]))
    assert weighted.item() == pytest.approx((3 * math.log(2.0) + math.log(1 + math.exp(-1.0))) / 2, rel=1e-5)
    assert observation_loss(logits, torch.full((1, 3), -1)).item() == 0.0
