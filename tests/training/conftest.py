"""Tiny synthetic studies (32x64x64 at 9/5/5 mm) and shared text models for the training tests."""

import pytest

from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset
from ctrg_desktop.model import load_tokenizer
from ctrg_desktop.model.text_encoder import TextEncoder
from ctrg_desktop.training.config import TrainConfig


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """6 studies: 4 train, 1 valid, 1 test."""
    out = tmp_path_factory.mktemp("phantoms")
    return generate_dataset(out, 6, seed=3, config=PhantomConfig(shape=(32, 64, 64), spacing=(9, 5, 5)), workers=1)


@pytest.fixture(scope="session")
def text_models():
    """Shared tokenizer + frozen text encoder (model kwargs of ``train``)."""
    return {"tokenizer": load_tokenizer("minilm"), "text_encoder": TextEncoder("minilm")}


@pytest.fixture
def tiny_cfg():
    def make(**changes):
        base = {"stage": "structure", "model": "tiny", "steps": 6, "batch_size": 2, "lr": 1e-3, "log_every": 1,
                "checkpoint_every": 0, "num_workers": 0, "seed": 0, "device": "cpu"}
        base.update(changes)
        return TrainConfig(**base)
    return make
