import torch
import torch.nn.functional as F

from ctrg_desktop.model import structure_contrastive_loss
from ctrg_desktop.model.losses import structure_logits


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


def test_logits_layout():
    image, text = _features()
    queue = F.normalize(torch.randn(3, 5, 8), dim=-1)
    logits = structure_logits(image, text, queue, None, 0.5)
    assert logits.shape == (3, 4, 9)
    assert torch.allclose(logits[2, 1, 4 + 3], image[1, 2] @ queue[2, 3] / 0.5)
    assert torch.allclose(logits[2, 1, 0], image[1, 2] @ text[0, 2] / 0.5)
