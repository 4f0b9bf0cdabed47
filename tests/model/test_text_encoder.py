import pytest
import torch
import torch.nn.functional as F

from ctrg_desktop.model import ModelConfig, StructureReportModel, TextEncoder


@pytest.fixture(scope="module")
def text_encoder():
    return TextEncoder("minilm")


def test_real_minilm_embeddings_rank_similar_sentences_closer(text_encoder):
    emb = text_encoder.encode(["Pleural effusion is present on the right.",
                               "There is a right pleural effusion.",
                               "The thyroid gland is normal in size."])
    assert emb.shape == (3, 384) and emb.dtype == torch.float32
    sims = F.normalize(emb, dim=-1) @ F.normalize(emb, dim=-1).T
    assert sims[0, 1] > sims[0, 2] + 0.1 and sims[1, 0] > sims[1, 2]
    assert not emb.requires_grad


def test_cache_returns_identical_embeddings_and_stays_bounded(text_encoder):
    first = text_encoder.encode(["No abnormality found in lung.", "Heart size increased."])
    again = text_encoder.encode(["Heart size increased.", "No abnormality found in lung."])
    assert torch.equal(first.flip(0), again)
    small = TextEncoder("minilm", cache_size=2)
    small.encode(["a", "b", "c", "a"])
    assert list(small._cache) == ["c", "a"]


def test_cls_pooling_differs_from_mean(text_encoder):
    cls = TextEncoder("minilm", pooling="cls")
    text = ["Lungs are clear."]
    assert cls.encode(text).shape == (1, 384)
    assert not torch.allclose(cls.encode(text), text_encoder.encode(text))


def test_unknown_local_model_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="no local text model"):
        TextEncoder(str(tmp_path))


def test_model_encodes_structure_texts_itself(tokenizer, volumes, text_encoder):
    model = StructureReportModel(ModelConfig.tiny(), tokenizer=tokenizer, text_encoder=text_encoder)
    texts = [[f"Finding {i} in study {b}." for i in range(10)] for b in range(2)]
    out = model.structure_loss({"volume": volumes, "structure_texts": texts})
    assert torch.isfinite(out["loss"])
