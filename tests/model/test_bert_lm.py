"""The plain-torch BERT decoder against ``transformers.BertLMHeadModel``: same tensors, logits,
loss and generated ids (greedy and beam search with every processor), and a cache that is used."""

import pytest
import torch

from ctrg_desktop.model import ModelConfig
from ctrg_desktop.model.bert_lm import BertLMHeadModel, generate
from ctrg_desktop.model.decoder import bert_config

EOS, BOS, PAD = 102, 101, 0


def _hf_twin(ours: BertLMHeadModel):
    from transformers import BertConfig
    from transformers import BertLMHeadModel as HFBertLMHeadModel

    c = ours.config
    config = BertConfig(vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
                        max_position_embeddings=c.max_position_embeddings, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, is_decoder=True, add_cross_attention=True,
                        tie_word_embeddings=True)
    hf = HFBertLMHeadModel(config).eval()
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and all(k.endswith(("position_ids", "token_type_ids")) for k in missing)
    hf.tie_weights()
    assert torch.equal(hf.cls.predictions.decoder.weight, ours.bert.embeddings.word_embeddings.weight)
    return hf


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(3)
    ours = BertLMHeadModel(bert_config(ModelConfig.tiny().decoder, 30522)).eval()
    with torch.no_grad():  # make [SEP] likely enough that sequences end at different lengths
        ours.cls.predictions.bias[EOS] += 4.0
        ours.cls.predictions.bias[:2000] += 1.0
    return ours, _hf_twin(ours)


def test_state_dict_names_are_transformers_names(pair):
    ours, hf = pair
    theirs = {k for k in hf.state_dict() if not k.endswith(("position_ids", "token_type_ids"))}
    assert set(ours.state_dict()) == theirs


def test_logits_and_loss_match(pair):
    ours, hf = pair
    torch.manual_seed(0)
    ids = torch.randint(1000, 2000, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    visual = torch.randn(2, 5, 32)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, encoder_hidden_states=visual)
        hf.loss_type = "ForCausalLM"
        loss = hf(input_ids=ids, attention_mask=mask, encoder_hidden_states=visual, labels=labels).loss
        logits = ours(ids, visual, mask)
    valid = mask.bool()
    assert torch.allclose(logits[valid], expected.logits[valid], atol=1e-4)
    assert torch.allclose(ours.loss(ids, visual, mask, labels), loss, atol=1e-5)


@pytest.mark.parametrize("settings", [
    {"num_beams": 1},
    {"num_beams": 1, "repetition_penalty": 1.3, "no_repeat_ngram_size": 2, "min_length": 6},
    {"num_beams": 3},
    {"num_beams": 3, "no_repeat_ngram_size": 3, "min_length": 5},
    {"num_beams": 4, "repetition_penalty": 1.2},
])
def test_generated_ids_match_transformers(pair, settings):
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    ours, hf = pair
    torch.manual_seed(1)
    visual = torch.randn(3, 5, 32)
    max_length = 24
    got = generate(ours, visual, bos=BOS, eos=EOS, pad=PAD, max_length=max_length, **settings)
    start = torch.full((3, 1), BOS)
    hf_settings = {"min_length": 0, **settings}
    with torch.no_grad():
        want = hf.generate(input_ids=start, encoder_hidden_states=visual,
                           cache=EncoderDecoderCache(DynamicCache(), DynamicCache()), do_sample=False,
                           max_length=max_length, eos_token_id=EOS, pad_token_id=PAD, **hf_settings)
    assert got.tolist() == want.tolist()
    assert (got == EOS).any(), "the test should cover sequences that end"


def test_the_cache_holds_one_step_per_token(pair):
    ours, _ = pair
    calls = []
    hook = ours.bert.embeddings.register_forward_hook(lambda m, i, o: calls.append(o.shape[1]))
    try:
        ids = generate(ours, torch.randn(1, 5, 32), bos=BOS, eos=-1, pad=PAD, max_length=12, num_beams=3)
    finally:
        hook.remove()
    assert ids.shape == (1, 12) and calls == [1] * 11       # one new token per step, never the prefix again


def test_positions_are_bounded(pair):
    ours, _ = pair
    with pytest.raises(ValueError, match="positions"):
        generate(ours, torch.randn(1, 5, 32), bos=BOS, eos=-1, pad=PAD, max_length=600)
