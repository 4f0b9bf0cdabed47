import numpy as np
import pytest

from ctrg_desktop.imaging import CTCLIP_WINDOW, PAPER_WINDOW, HUWindow


def test_paper_window_range_and_inverse():
    hu = np.array([-2000, -1000, -400, 0, 200, 3000], np.int16)
    x = PAPER_WINDOW.normalise(hu)
    assert x.dtype == np.float32
    assert np.allclose(x, [-1, -1, 0, 2 / 3, 1, 1])
    assert np.allclose(PAPER_WINDOW.denormalise(x), [-1000, -1000, -400, 0, 200, 200])


def test_ctclip_window():
    assert np.allclose(CTCLIP_WINDOW.normalise(np.array([-1000, 0, 1000, 1500])), [-1, 0, 1, 1])


def test_invalid_window():
    with pytest.raises(ValueError, match="upper bound"):
        HUWindow(100, -100)
