"""72-value label-status vectors and Hamming distances."""

import numpy as np
import pytest

from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.retrieval.status import hamming, one_hot, report_statuses, status_hamming, status_vectors


def test_statuses_and_vectors_of_a_report():
    text = "No pleural effusion. Cardiomegaly is seen. Possible lung nodule."
    s = report_statuses(text)
    expected = np.zeros(18, dtype=np.uint8)
    expected[CT_RATE_LABELS.index("Pleural effusion")] = 1
    expected[CT_RATE_LABELS.index("Cardiomegaly")] = 3
    expected[CT_RATE_LABELS.index("Lung nodule")] = 2
    assert s.tolist() == expected.tolist()
    v = status_vectors([text, ""])
    assert v.shape == (2, 72) and v.sum(axis=1).tolist() == [18, 18]
    # Cardiomegaly is label 2: its "positive" value is 4·2 + 3 = 11; an empty report is all absent
    assert v[0, 11] == 1 and v[0, 8] == 0 and v[1, 0::4].tolist() == [1] * 18


def test_hamming_distances_by_hand():
    a = np.zeros(18, dtype=np.uint8)
    b = a.copy()
    b[2] = 3          # one label differs: 2 of 72 values
    c = b.copy()
    c[5], c[6] = 1, 2  # three labels differ from a: 6
    va, vb, vc = one_hot([a, b, c])
    assert hamming(va, vb) == 2 and hamming(va, vc) == 6 and hamming(vb, vc) == 4
    assert hamming(np.stack([va, vb]), np.stack([va, vb, vc])).tolist() == [[0, 2, 6], [2, 0, 4]]
    assert hamming(va, np.stack([vb, vc])).tolist() == [2, 6]
    assert status_hamming(a, c) == 6
    with pytest.raises(ValueError, match="0..3"):
        one_hot(np.full(18, 4))
    with pytest.raises(ValueError, match="18 labels"):
        one_hot(np.zeros(17))
