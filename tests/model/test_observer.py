import itertools

import pytest
import torch

from ctrg_desktop.model import ObserverConfig, StructureObserver, select_top_patches


def test_select_top_patches_matches_brute_force():
    torch.manual_seed(0)
    attention, features = torch.rand(2, 3, 20), torch.randn(2, 20, 5)
    indices, top = select_top_patches(attention, features, 4)
    assert indices.shape == (2, 3, 4) and top.shape == (2, 3, 4, 5)
    for b, n in itertools.product(range(2), range(3)):
        expected = sorted(range(20), key=lambda p: -attention[b, n, p].item())[:4]
        assert indices[b, n].tolist() == expected
        for j, p in enumerate(expected):
            assert torch.equal(top[b, n, j], features[b, p])


def test_select_top_patches_rejects_bad_k():
    with pytest.raises(ValueError, match="top_k"):
        select_top_patches(torch.rand(1, 2, 5), torch.randn(1, 5, 3), 6)


@pytest.mark.parametrize("kind", ["paper", "bert"])
def test_observer_shapes(kind):
    config = ObserverConfig(num_structures=10, dim=32, top_k=4, kind=kind, heads=2)
    out = StructureObserver(config, in_dim=24)(torch.randn(2, 64, 24))
    assert out.tokens.shape == (2, 10, 32)
    assert out.attention.shape == (2, 10, 64)
    assert out.topk_indices.shape == (2, 10, 4) and out.topk_features.shape == (2, 10, 4, 32)
    assert torch.equal(out.topk_indices, out.attention.topk(4, dim=-1).indices)


def test_paper_attention_rows_sum_to_one_and_tokens_are_weighted_values():
    observer = StructureObserver(ObserverConfig(dim=16, top_k=3), in_dim=16)
    features = torch.randn(3, 30, 16)
    out = observer(features)
    assert torch.allclose(out.attention.sum(-1), torch.ones(3, 10), atol=1e-5)
    values = observer.attend.w2(features)
    assert torch.allclose(out.tokens, out.attention @ values, atol=1e-5)


def test_queries_are_small_normal():
    observer = StructureObserver(ObserverConfig(num_structures=10, dim=512), in_dim=8)
    assert observer.queries.shape == (10, 512)
    assert 0.015 < observer.queries.std().item() < 0.025
