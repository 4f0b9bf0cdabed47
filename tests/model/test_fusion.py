"""Optimal-transport attention, the consistency loss and the prompt fusion module (seed REVTAF)."""

import numpy as np
import ot
import pytest
import torch

from ctrg_desktop.model.config import FusionConfig
from ctrg_desktop.model.fusion import (PromptFusion, cosine_cost, sinkhorn_attention, sinkhorn_plan,
                                       sinkhorn_weights, softmax_weights)
from ctrg_desktop.model.losses import attention_consistency_loss, soft_iou, token_attention_map, unit_scale
from ctrg_desktop.model.reference_prompts import ReferencePromptBuilder, ReferencePrompts, label_statuses
from ctrg_desktop.reports.labeller import Mention


def _cost(seed=0, shape=(1, 5, 4)):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2


def test_sinkhorn_plan_matches_pot():
    cost = _cost()
    plan = sinkhorn_plan(cost, epsilon=0.1, iterations=5000, tolerance=1e-12).double()
    a, b = np.full(5, 1 / 5), np.full(4, 1 / 4)
    expected = ot.sinkhorn(a, b, cost[0].numpy(), reg=0.1, numItermax=20000, stopThr=1e-13)
    np.testing.assert_allclose(plan[0].numpy(), expected, atol=1e-6)
    # The log domain survives a small epsilon where the plain kernel underflows.
    small = sinkhorn_plan(cost, epsilon=0.01, iterations=20000, tolerance=1e-10).double()
    expected = ot.sinkhorn(a, b, cost[0].numpy(), reg=0.01, method="sinkhorn_log", numItermax=50000, stopThr=1e-12)
    np.testing.assert_allclose(small[0].numpy(), expected, atol=1e-5)


def test_sinkhorn_plan_with_masked_keys_matches_pot_on_the_valid_keys():
    cost = _cost(1, (2, 6, 5))
    mask = torch.tensor([[True, False, True, True, False], [True] * 5])
    plan = sinkhorn_plan(cost, mask, epsilon=0.2, iterations=5000, tolerance=1e-12).double()
    assert torch.all(plan[0][:, ~mask[0]] == 0)
    valid = cost[0][:, mask[0]].numpy()
    expected = ot.sinkhorn(np.full(6, 1 / 6), np.full(3, 1 / 3), valid, reg=0.2, numItermax=20000, stopThr=1e-13)
    np.testing.assert_allclose(plan[0][:, mask[0]].numpy(), expected, atol=1e-6)
    # marginals: uniform over the queries and over the valid keys
    np.testing.assert_allclose(plan.sum(-1).numpy(), np.full((2, 6), 1 / 6), atol=1e-6)
    np.testing.assert_allclose(plan[0].sum(0)[mask[0]].numpy(), np.full(3, 1 / 3), atol=1e-6)
    np.testing.assert_allclose(plan[1].sum(0).numpy(), np.full(5, 1 / 5), atol=1e-6)


def test_sinkhorn_stops_early_once_converged():
    cost = _cost(2)
    one_step = sinkhorn_plan(cost, epsilon=0.1, iterations=1, tolerance=0.0)
    stopped = sinkhorn_plan(cost, epsilon=0.1, iterations=100, tolerance=10.0)  # met after the first step
    full = sinkhorn_plan(cost, epsilon=0.1, iterations=100, tolerance=0.0)
    assert torch.equal(stopped, one_step)
    assert not torch.allclose(full, one_step, atol=1e-6)


def test_attention_weights_rows_sum_to_one_and_masks_hold():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 7, 8), torch.randn(2, 4, 8), torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [False] * 4])
    for weights in (sinkhorn_weights(q, k, mask), softmax_weights(q, k, mask)):
        torch.testing.assert_close(weights[0].sum(-1), torch.ones(7))
        assert torch.all(weights[0][:, 2:] == 0)
        assert torch.all(weights[1] == 0)  # no valid key: no attention, no NaN
    expected = (-cosine_cost(q, k)[0][:, :2] / 0.05).softmax(-1)
    torch.testing.assert_close(softmax_weights(q, k, mask)[0][:, :2], expected)
    out = sinkhorn_attention(q, k, v, mask)
    assert out.shape == (2, 7, 3) and torch.all(out[1] == 0)


def test_sinkhorn_spreads_attention_that_softmax_concentrates():
    """Every key receives the same total under optimal transport, not under softmax."""
    q = torch.tensor([[[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]]])
    k = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    ot_column = sinkhorn_weights(q, k, epsilon=0.1).sum(1)
    softmax_column = softmax_weights(q, k, epsilon=0.1).sum(1)
    torch.testing.assert_close(ot_column, torch.tensor([[2.0, 2.0]]), atol=1e-4, rtol=0)
    assert softmax_column[0, 0] > 2.9


def test_sinkhorn_attention_gradients_flow_to_queries_and_keys():
    torch.manual_seed(1)
    q = torch.randn(1, 5, 4, requires_grad=True)
    k = torch.randn(1, 3, 4, requires_grad=True)
    v = torch.randn(1, 3, 4, requires_grad=True)
    mask = torch.tensor([[True, True, False]])
    (sinkhorn_attention(q, k, v, mask) * torch.randn(1, 5, 4)).sum().backward()
    for tensor in (q, k, v):
        assert torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_sinkhorn_rejects_bad_settings():
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_plan(_cost(), epsilon=0)
    with pytest.raises(ValueError, match="key_mask"):
        sinkhorn_plan(_cost(), torch.ones(1, 3, dtype=torch.bool))


def test_soft_iou_and_unit_scale_hand_values():
    a, b = torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.0, 1.0, 1.0])
    assert soft_iou(a, b).item() == pytest.approx((0.0 + 0.5 + 1.0) / (0.0 + 1.0 + 1.0))  # sum min / sum max
    assert soft_iou(b, b).item() == pytest.approx(1.0)
    assert soft_iou(a, a).item() == pytest.approx(1.0)  # a map and itself overlap fully, binary or not
    torch.testing.assert_close(unit_scale(torch.tensor([2.0, 4.0, 3.0])), torch.tensor([0.0, 1.0, 0.5]))


def test_consistency_loss_hand_value_and_gradient():
    plain = torch.tensor([[[0.2, 0.8], [0.5, 0.5]]])
    fused = torch.tensor([[[0.6, 0.4], [0.5, 0.5]]], requires_grad=True)
    loss = attention_consistency_loss(plain, fused)
    # row 1: scaled [0, 1] vs [1, 0] -> IoU 0; row 2: constant rows scale to 0 -> IoU 0
    assert loss.item() == pytest.approx(1.0)
    fused2 = torch.tensor([[[0.1, 0.9], [0.3, 0.7]]], requires_grad=True)
    loss = attention_consistency_loss(plain, fused2)
    cos1 = (0.2 * 0.1 + 0.8 * 0.9) / (np.hypot(0.2, 0.8) * np.hypot(0.1, 0.9))
    cos2 = (0.5 * 0.3 + 0.5 * 0.7) / (np.hypot(0.5, 0.5) * np.hypot(0.3, 0.7))
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = ((1 - sig(cos1) * 1.0) + (1 - sig(cos2) * 0.0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert fused2.grad.abs().sum() > 0
    assert attention_consistency_loss(plain, fused2, torch.tensor([False])).item() == 0.0


def test_token_attention_map_is_row_stochastic():
    maps = token_attention_map(torch.randn(2, 6, 4))
    assert maps.shape == (2, 6, 6)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 6))


def _prompts(batch=2, sentences=3, text_dim=12, present=(True, True)):
    torch.manual_seed(3)
    return ReferencePrompts(torch.randn(batch, sentences, text_dim),
                            torch.tensor([[True, True, False], [True, False, False]])[:batch],
                            torch.randint(0, 4, (batch, 18)), torch.tensor(present))


@pytest.mark.parametrize("attention", ["sinkhorn", "softmax"])
def test_prompt_fusion_starts_as_identity_and_leaves_studies_without_reference(attention):
    fusion = PromptFusion(FusionConfig(enabled=True, attention=attention), dim=16, text_dim=12)
    visual = torch.randn(2, 9, 16)
    out = fusion(visual, _prompts())
    assert torch.equal(out.tokens, visual)
    assert out.consistency.ndim == 0 and torch.isfinite(out.consistency)
    torch.nn.init.normal_(fusion.out.weight)
    out = fusion(visual, _prompts(present=(True, False)))
    assert not torch.allclose(out.tokens[0], visual[0])
    assert torch.equal(out.tokens[1], visual[1])
    out.tokens.sum().backward()
    assert fusion.global_proj[0].weight.grad.abs().sum() > 0
    assert fusion.status_embedding.grad.abs().sum() > 0
    fusion.reset_output()
    assert torch.equal(fusion(visual, _prompts()).tokens, visual)


def test_prompt_fusion_single_branch_and_bad_input():
    fusion = PromptFusion(FusionConfig(enabled=True, global_prompts=False), dim=16, text_dim=12)
    assert fusion.global_attention is None and fusion.out.in_features == 16
    with pytest.raises(ValueError, match="3 studies"):
        fusion(torch.randn(3, 9, 16), _prompts())
    bad = _prompts()
    bad.statuses[0, 0] = 4
    with pytest.raises(ValueError, match="statuses"):
        fusion(torch.randn(2, 9, 16), bad)


def test_prompt_builder_caches_per_report_and_reads_statuses():
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return torch.stack([torch.full((4,), float(len(t))) for t in texts])

    builder = ReferencePromptBuilder(text_dim=4, max_sentences=2, cache_size=2)
    report = "Right pleural effusion. No lung nodule. Heart size is normal."
    prompts = builder([report, ""], encode)
    assert prompts.sentences.shape == (2, 2, 4)
    assert prompts.sentence_mask.tolist() == [[True, True], [False, False]]
    assert prompts.present.tolist() == [True, False]
    statuses = label_statuses(report)
    assert statuses[12] == Mention.POSITIVE and statuses[9] == Mention.NEGATED and statuses[2] == Mention.ABSENT
    assert torch.equal(prompts.statuses[0], statuses)
    builder([report], encode)
    assert calls == [["Right pleural effusion.", "No lung nodule."]]  # second call: from the cache
    builder(["A.", "B."], encode)  # evicts the oldest entry (cache of 2)
    builder([report], encode)
    assert len(calls) == 4
    with pytest.raises(ValueError, match="4-d"):
        ReferencePromptBuilder(text_dim=8)(["Some text."], encode)
