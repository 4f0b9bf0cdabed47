import pytest
import torch
import torch.nn.functional as F

from ctrg_desktop.model import DiversityQueue


def _unit(*values):
    return F.normalize(torch.tensor(values, dtype=torch.float32), dim=-1)


def _filled_queue(score="sum"):
    """Structure 0 holds e0, e1 and e0+0.1 e1 (near-duplicate of e0)."""
    queue = DiversityQueue(num_structures=2, size=3, dim=4, score=score)
    queue.update(torch.stack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(1, 0.1, 0, 0)]),
                 torch.tensor([0, 0, 0]))
    return queue


NEAR = (_unit(1, 0.1, 0, 0) @ _unit(1, 0, 0, 0)).item()  # cos(e0, e0 + 0.1 e1)
SLIGHT = (_unit(1, 0.1, 0, 0) @ _unit(0, 1, 0, 0)).item()  # cos(e1, e0 + 0.1 e1)


def test_sum_rule_stores_each_entrys_sum_of_similarities():
    queue = _filled_queue()
    assert queue.count.tolist() == [3, 0]
    assert queue.valid_mask().tolist() == [[True] * 3, [False] * 3]
    assert torch.allclose(queue.entries(0)[1], _unit(0, 1, 0, 0))
    assert queue.scores[0].tolist() == pytest.approx([NEAR, SLIGHT, NEAR + SLIGHT])


def test_sum_rule_replaces_the_most_redundant_entry_and_updates_every_sum():
    queue = _filled_queue()
    queue.update(_unit(0, 0, 1, 0).unsqueeze(0), torch.tensor([0]))
    assert torch.allclose(queue.features[0, 2], _unit(0, 0, 1, 0))  # e0 + 0.1 e1 had the largest sum
    assert queue.scores[0].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_sum_rule_drops_a_newcomer_more_redundant_than_the_worst_entry():
    queue = DiversityQueue(num_structures=1, size=3, dim=4)
    queue.update(torch.stack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(0, 0, 1, 0)]), torch.tensor([0, 0, 0]))
    before = queue.features.clone()
    queue.update(_unit(1, 0.2, 0.2, 0).unsqueeze(0), torch.tensor([0]))  # sum 0.38 against the two kept > 0
    assert torch.equal(queue.features, before)


def test_max_rule_stores_largest_similarities():
    queue = _filled_queue("max")
    assert queue.scores[0].tolist() == pytest.approx([NEAR, SLIGHT, NEAR])


def test_max_rule_near_duplicate_is_not_enqueued_when_full():
    queue = _filled_queue("max")
    before = queue.features.clone()
    queue.update(_unit(1, 0.01, 0, 0).unsqueeze(0), torch.tensor([0]))
    assert torch.equal(queue.features, before)


def test_max_rule_dissimilar_feature_replaces_the_largest_score_entry():
    queue = _filled_queue("max")
    worst = int(queue.scores[0].argmax())
    queue.update(_unit(0, 0, 1, 0).unsqueeze(0), torch.tensor([0]))
    assert torch.allclose(queue.features[0, worst], _unit(0, 0, 1, 0))
    assert queue.scores[0, worst].item() == pytest.approx(0.0, abs=1e-6)
    assert queue.count[0] == 3


def test_three_d_features_route_row_n_to_structure_n():
    queue = DiversityQueue(num_structures=3, size=4, dim=2)
    queue.update(torch.randn(2, 3, 2))
    assert queue.count.tolist() == [2, 2, 2]


def test_fifo_overwrites_the_oldest():
    queue = DiversityQueue(num_structures=1, size=2, dim=2, mode="fifo")
    first, second, third = _unit(1, 0), _unit(0, 1), _unit(1, 1)
    queue.update(torch.stack([first, second, third]), torch.tensor([0, 0, 0]))
    assert torch.allclose(queue.features[0, 0], third) and torch.allclose(queue.features[0, 1], second)
    assert queue.count.item() == 2 and queue.pointer.item() == 1


def test_gather_fn_sees_the_features():
    seen = []
    queue = DiversityQueue(1, 4, 2, gather_fn=lambda x: seen.append(x.shape) or torch.cat([x, x]))
    queue.update(torch.randn(1, 1, 2))
    assert queue.count.item() == 2 and len(seen) == 2


def test_buffers_are_in_the_state_dict():
    assert {"features", "scores", "count", "pointer"} <= set(DiversityQueue(2, 3, 4).state_dict())
