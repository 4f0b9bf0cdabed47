"""One LiteMedSAM (the real bundled weights) shared by the segmentation tests."""

import pytest


@pytest.fixture(scope="session")
def lite_segmenter():
    from ctrg_desktop.segmentation import load_segmenter

    return load_segmenter("litemedsam", device="cpu")
