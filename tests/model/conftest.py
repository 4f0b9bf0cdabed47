"""Tiny model fixtures: hidden 32, one or two layers, a 16x32x32 volume (64 patches)."""

import pytest
import torch

from ctrg_desktop.model import ModelConfig, StructureReportModel, load_tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture
def tiny_config():
    return ModelConfig.tiny()


@pytest.fixture
def make_model(tokenizer):
    def make(config=None, seed=0):
        torch.manual_seed(seed)
        return StructureReportModel(config or ModelConfig.tiny(), tokenizer=tokenizer)
    return make


@pytest.fixture
def volumes():
    torch.manual_seed(1)
    return torch.randn(2, 1, 16, 32, 32)
