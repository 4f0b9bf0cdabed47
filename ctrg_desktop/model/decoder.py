"""BERT-style report decoder cross-attending to the visual tokens [S; T] (BLIP-style).

A BERT language model with cross-attention (:mod:`ctrg_desktop.model.bert_lm`: the network of
``transformers.BertLMHeadModel`` with ``is_decoder=True, add_cross_attention=True``, same tensor
names, without importing transformers' modelling code); the visual tokens (B, V, visual_dim) are
projected to the decoder width. Reports are tokenised with the MiniLM tokenizer: [CLS] starts a
report, [SEP] ends it. Weights are copied from MiniLM wherever names and shapes match
(cross-attention and the LM head transform start fresh). Generation caches the keys/values.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from ctrg_desktop.model.bert_lm import BertLMConfig, BertLMHeadModel
from ctrg_desktop.model.bert_lm import generate as generate_ids
from ctrg_desktop.model.config import DecoderConfig
from ctrg_desktop.model.text_encoder import load_tokenizer, resolve_text_model

logger = logging.getLogger(__name__)


def join_structure_texts(texts: list[str]) -> str:
    """Per-structure texts (in structure order) -> one report string."""
    return " ".join(t.strip() for t in texts if t and t.strip())


def position_limit(config: DecoderConfig) -> int:
    """The decoder's position embeddings: the longest report it can read or write, in tokens."""
    return max(config.max_length, 512)


def bert_config(config: DecoderConfig, vocab_size: int) -> BertLMConfig:
    return BertLMConfig(vocab_size=vocab_size, hidden_size=config.hidden, num_hidden_layers=config.layers,
                        num_attention_heads=config.heads, intermediate_size=config.intermediate,
                        max_position_embeddings=position_limit(config),
                        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout)


def copy_matching_weights(target: nn.Module, source_state: dict[str, torch.Tensor], prefix: str) -> int:
    """Copy ``source_state`` tensors into ``target`` where ``prefix + name`` exists with the same shape."""
    own = target.state_dict()
    matched = {prefix + k: v for k, v in source_state.items()
               if prefix + k in own and own[prefix + k].shape == v.shape}
    target.load_state_dict(matched, strict=False)
    return len(matched)


class ReportDecoder(nn.Module):
    """Visual tokens (B, V, visual_dim) + report token ids -> next-token loss or generated text."""

    def __init__(self, config: DecoderConfig, visual_dim: int, tokenizer=None):
        super().__init__()
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.tokenizer)
        if config.vocab_size != len(self.tokenizer):
            raise ValueError(f"decoder vocab_size {config.vocab_size} differs from the tokenizer's "
                             f"{len(self.tokenizer)} tokens")
        self.config = config
        self.visual_proj = nn.Sequential(nn.Linear(visual_dim, config.hidden), nn.LayerNorm(config.hidden))
        self.lm = BertLMHeadModel(bert_config(config, config.vocab_size))
        if config.init_from_text_encoder:
            self.init_from_text_model(config.tokenizer)

    def init_from_text_model(self, name: str) -> int:
        """Copy the text model's BERT weights where shapes allow; returns the number of tensors."""
        from safetensors.torch import load_file

        state = load_file(str(resolve_text_model(name) / "model.safetensors"))
        state = {k.removeprefix("bert."): v for k, v in state.items()}
        copied = copy_matching_weights(self.lm, state, "bert.")
        self.lm.tie_weights()
        logger.info("decoder: %d tensors initialised from %s", copied, name)
        return copied

    def tokenize(self, reports: list[str], device=None) -> dict[str, torch.Tensor]:
        """reports (B) -> input_ids, attention_mask (B, L) and labels (pad = -100)."""
        batch = self.tokenizer(reports, padding=True, truncation=True, max_length=self.config.max_length,
                               return_tensors="pt")
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        out = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": labels}
        return {k: v.to(device) for k, v in out.items()} if device is not None else out

    def loss(self, visual: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             labels: torch.Tensor) -> torch.Tensor:
        """visual (B, V, visual_dim), ids/mask/labels (B, L) -> mean next-token cross-entropy."""
        return self.lm.loss(input_ids, self.visual_proj(visual), attention_mask, labels)

    @torch.no_grad()
    def generate(self, visual: torch.Tensor, num_beams: int = 3, min_length: int = 1,
                 max_length: int | None = None, no_repeat_ngram_size: int = 0,
                 repetition_penalty: float = 1.0, **kwargs) -> list[str]:
        """visual (B, V, visual_dim) -> B report strings (beam search; ``num_beams=1`` is greedy).

        ``max_length`` counts every token ([CLS] included; default ``config.max_length``, at most
        :func:`position_limit`), as does ``min_length``."""
        if kwargs:
            raise TypeError(f"unknown generation settings: {', '.join(sorted(kwargs))}")
        tok = self.tokenizer
        limit = max_length or self.config.max_length
        if limit > position_limit(self.config):
            raise ValueError(f"max_length {limit} exceeds the decoder's {position_limit(self.config)} positions")
        ids = generate_ids(self.lm, self.visual_proj(visual), bos=tok.cls_token_id, eos=tok.sep_token_id,
                           pad=tok.pad_token_id, max_length=int(limit), num_beams=int(num_beams),
                           min_length=int(min_length or 0), no_repeat_ngram_size=int(no_repeat_ngram_size or 0),
                           repetition_penalty=float(repetition_penalty))
        return tok.batch_decode(ids, skip_special_tokens=True)
