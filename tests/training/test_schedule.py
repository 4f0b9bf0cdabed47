import pytest

from ctrg_desktop.training.schedule import lr_at, warmup_steps


def test_warmup_then_linear_decay():
    lrs = [lr_at(s, 10, 1.0, 0.2) for s in range(10)]
    assert warmup_steps(10, 0.2) == 2
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    assert lr_at(10, 10, 1.0, 0.2) == 0.0


def test_no_warmup_and_paper_numbers():
    assert lr_at(0, 4, 2.0, 0.0) == 2.0
    # the paper: 100k steps, 10 % warm-up, peak 1e-5 reached at step 9999, half way down at 55k
    assert lr_at(9_999, 100_000, 1e-5) == pytest.approx(1e-5)
    assert lr_at(55_000, 100_000, 1e-5) == pytest.approx(0.5e-5)
    assert max(lr_at(s, 100, 1e-4) for s in range(100)) == pytest.approx(1e-4)


@pytest.mark.parametrize("args", [(0, 0, 1.0, 0.1), (0, 10, 1.0, 1.0), (-1, 10, 1.0, 0.1)])
def test_bad_arguments(args):
    with pytest.raises(ValueError):
        lr_at(*args)
