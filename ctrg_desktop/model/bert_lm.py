"""A BERT language-model decoder with cross-attention, in plain torch, and its beam search.

The network is ``transformers.BertLMHeadModel`` (``is_decoder=True, add_cross_attention=True``)
written out: the same modules under the same names, so a state dict of one loads into the other
and MiniLM's weights copy in by name. Writing it here spares every draft the import of
transformers' modelling stack (about 3 s of a 4 s model load on two cores: it pulls in
``torch._dynamo``, ``torch.distributed.tensor`` and scipy) and gives a decoding loop without the
generic generation machinery: cross-attention keys/values are computed once per report,
self-attention keys/values are cached and reordered with the beams.

:func:`generate` reproduces ``GenerationMixin.generate`` for this model (greedy for one beam,
else beam search with ``length_penalty=1``, ``early_stopping=False``; ``min_length``,
``no_repeat_ngram_size``, ``repetition_penalty`` as its logits processors):
``tests/model/test_bert_lm.py`` checks logits, loss and generated ids against transformers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-12
INITIALIZER_RANGE = 0.02


@dataclass(frozen=True)
class BertLMConfig:
    """The few BERT settings this decoder uses (``BertConfig`` names)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden size {self.hidden_size} is not a multiple of "
                             f"{self.num_attention_heads} attention heads")


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, past_length: int = 0) -> torch.Tensor:
        length = input_ids.shape[1]
        if past_length + length > self.position_embeddings.num_embeddings:
            raise ValueError(f"{past_length + length} tokens exceed the decoder's "
                             f"{self.position_embeddings.num_embeddings} positions")
        positions = torch.arange(past_length, past_length + length, device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0]
             + self.position_embeddings(positions)[None])
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Query/key/value projections (``attention.self`` or ``crossattention.self``)."""

    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, hidden) -> (B, heads, L, head_dim)."""
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split(self.key(x)), self.split(self.value(x))

    def attend(self, hidden: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """hidden (B, L, hidden) queries against keys/values (B, heads, S, head_dim) -> (B, L, hidden)."""
        q = self.split(self.query(hidden))
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask,
                                             dropout_p=self.dropout_p if self.training else 0.0)
        return out.transpose(1, 2).reshape(hidden.shape)


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class BertOutput(BertSelfOutput):
    def __init__(self, config: BertLMConfig):
        super().__init__(config)
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)


class BertLayer(nn.Module):
    """Causal self-attention -> cross-attention to the visual tokens -> feed-forward (post-LN)."""

    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.crossattention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x: torch.Tensor, self_kv: tuple[torch.Tensor, torch.Tensor], self_mask,
                cross_kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = self.attention.output(self.attention.self.attend(x, *self_kv, self_mask), x)
        x = self.crossattention.output(self.crossattention.self.attend(x, *cross_kv, None), x)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))


class BertModel(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))   # registered first: the name a checkpoint keeps
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


@dataclass
class KVCache:
    """Per layer: self-attention keys/values (B, heads, max_len, head_dim) filled up to ``length``,
    and the cross-attention keys/values of the visual tokens (computed once)."""

    self_kv: list[tuple[torch.Tensor, torch.Tensor]]
    cross_kv: list[tuple[torch.Tensor, torch.Tensor]]
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Beam search: row i of every self-attention cache becomes row ``index[i]``."""
        n = self.length
        if torch.equal(index, torch.arange(len(index), device=index.device)):
            return
        for k, v in self.self_kv:
            k[:, :, :n] = k[index, :, :n]
            v[:, :, :n] = v[index, :, :n]


class BertLMHeadModel(nn.Module):
    """``bert`` (embeddings + layers) and ``cls`` (prediction head, tied to the word embeddings)."""

    def __init__(self, config: BertLMConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertOnlyMLMHead(config)
        self.apply(self._init_weights)
        self.tie_weights()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """BERT's initialisation: N(0, 0.02) weights, zero biases and padding row, unit LayerNorms."""
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=INITIALIZER_RANGE)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=INITIALIZER_RANGE)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, BertLMPredictionHead):
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """The output projection shares the word embeddings and the head's bias."""
        head = self.cls.predictions
        head.decoder.weight = self.bert.embeddings.word_embeddings.weight
        head.decoder.bias = head.bias

    # ------------------------------------------------------------------ full sequences (training)

    def forward(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, L), visual (B, V, hidden), padding mask (B, L) of 1/0 -> logits (B, L, vocab)."""
        b, length = input_ids.shape
        causal = torch.ones(length, length, dtype=torch.bool, device=input_ids.device).tril()
        mask = causal[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, None, :]
        x = self.bert.embeddings(input_ids)
        for layer in self.bert.encoder.layer:
            x = layer(x, layer.attention.self.keys_values(x), mask,
                      layer.crossattention.self.keys_values(encoder_hidden_states))
        return self.cls.predictions(x)

    def loss(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
             attention_mask: torch.Tensor | None, labels: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy; label -100 is ignored (transformers' ``ForCausalLM`` loss)."""
        logits = self(input_ids, encoder_hidden_states, attention_mask).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)

    # ------------------------------------------------------------------ incremental (generation)

    def new_cache(self, encoder_hidden_states: torch.Tensor, max_length: int) -> KVCache:
        """Empty self-attention caches for ``max_length`` tokens and the visual tokens' keys/values."""
        b = encoder_hidden_states.shape[0]
        layers = self.bert.encoder.layer
        att = layers[0].attention.self if len(layers) else None
        shape = (b, att.heads, max_length, att.head_dim) if att is not None else None
        like = encoder_hidden_states
        self_kv = [(like.new_empty(shape), like.new_empty(shape)) for _ in layers]
        cross_kv = [layer.crossattention.self.keys_values(encoder_hidden_states) for layer in layers]
        return KVCache(self_kv, cross_kv)

    def step(self, input_ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """The next ``input_ids`` (B, L) after ``cache.length`` cached tokens -> logits (B, vocab) of the
        last one; the cache grows by L."""
        start, length = cache.length, input_ids.shape[1]
        end = start + length
        mask = None
        if length > 1:
            mask = torch.ones(length, end, dtype=torch.bool, device=input_ids.device).tril(diagonal=start)
        x = self.bert.embeddings(input_ids, past_length=start)
        for layer, (k_cache, v_cache), cross in zip(self.bert.encoder.layer, cache.self_kv, cache.cross_kv):
            k, v = layer.attention.self.keys_values(x)
            k_cache[:, :, start:end] = k
            v_cache[:, :, start:end] = v
            x = layer(x, (k_cache[:, :, :end], v_cache[:, :, :end]), mask, cross)
        cache.length = end
        return self.cls.predictions(x[:, -1])


# ------------------------------------------------------------------------------------------ decoding

def _process(ids: torch.Tensor, scores: torch.Tensor, eos: int, min_length: int, no_repeat_ngram_size: int,
             repetition_penalty: float) -> torch.Tensor:
    """transformers' logits processors, in its order: repetition penalty, no-repeat n-grams, min length.

    ``ids`` (R, t) the sequences so far (prompt included), ``scores`` (R, vocab), changed in place."""
    if repetition_penalty != 1.0:
        picked = scores.gather(1, ids)
        scores.scatter_(1, ids, torch.where(picked < 0, picked * repetition_penalty, picked / repetition_penalty))
    n, t = no_repeat_ngram_size, ids.shape[1]
    if n > 0 and t + 1 >= n:
        for row, seq in enumerate(ids.tolist()):
            prefix = tuple(seq[t + 1 - n:]) if n > 1 else ()
            banned = {seq[i + n - 1] for i in range(t - n + 1) if tuple(seq[i:i + n - 1]) == prefix}
            if banned:
                scores[row, list(banned)] = -float("inf")
    if t < min_length:
        scores[:, eos] = -float("inf")
    return scores


@torch.no_grad()
def generate(lm: BertLMHeadModel, visual: torch.Tensor, bos: int, eos: int, pad: int, max_length: int,
             num_beams: int = 1, min_length: int = 0, no_repeat_ngram_size: int = 0,
             repetition_penalty: float = 1.0) -> torch.Tensor:
    """visual (B, V, hidden) -> token ids (B, T) starting with ``bos``, padded after ``eos``.

    ``max_length`` counts every token, ``bos`` included (as transformers does)."""
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    positions = lm.config.max_position_embeddings
    if max_length > positions:
        raise ValueError(f"max_length {max_length} exceeds the decoder's {positions} positions")
    settings = (eos, min_length, no_repeat_ngram_size, repetition_penalty)
    if num_beams <= 1:
        return _greedy(lm, visual, bos, pad, max_length, settings)
    return _beam_search(lm, visual, bos, max_length, num_beams, settings)


def _greedy(lm, visual, bos, pad, max_length, settings) -> torch.Tensor:
    eos = settings[0]
    b = visual.shape[0]
    ids = torch.full((b, 1), bos, dtype=torch.long, device=visual.device)
    cache = lm.new_cache(visual, max_length)
    unfinished = torch.ones(b, dtype=torch.bool, device=visual.device)
    step_input = ids
    while ids.shape[1] < max_length:
        logits = lm.step(step_input, cache).float()
        scores = _process(ids, logits, *settings)
        token = scores.argmax(-1)
        token = torch.where(unfinished, token, torch.full_like(token, pad))
        ids = torch.cat([ids, token[:, None]], dim=1)
        unfinished &= token != eos
        if not unfinished.any():
            break
        step_input = token[:, None]
    return ids


def _beam_search(lm, visual, bos, max_length, num_beams, settings) -> torch.Tensor:
    """transformers' beam search (``length_penalty`` 1, ``early_stopping`` False), vectorised over the batch."""
    eos = settings[0]
    device = visual.device
    b, k = visual.shape[0], num_beams
    keep = 2 * k                                                   # candidates per step (one EOS id)
    neg = -1.0e9
    cache = lm.new_cache(visual.repeat_interleave(k, dim=0), max_length)
    running = torch.full((b, k, max_length), eos, dtype=torch.long, device=device)
    running[:, :, 0] = bos
    finished = running.clone()
    running_scores = torch.zeros(b, k, device=device)
    running_scores[:, 1:] = neg
    finished_scores = torch.full((b, k), neg, device=device)
    is_finished = torch.zeros(b, k, dtype=torch.bool, device=device)
    improvable = torch.ones(b, 1, dtype=torch.bool, device=device)
    top_k_mask = torch.arange(keep, device=device) < k
    batch_offset = torch.arange(b, device=device)[:, None] * k
    cur = 1
    step_input = running[:, :, :1].reshape(b * k, 1)
    while True:
        logits = lm.step(step_input, cache).float()
        log_probs = _process(running[:, :, :cur].reshape(b * k, cur), F.log_softmax(logits, dim=-1), *settings)
        vocab = log_probs.shape[-1]
        total = (log_probs.view(b, k, vocab) + running_scores[:, :, None]).view(b, k * vocab)
        top_scores, top_index = torch.topk(total, keep)
        beam = top_index // vocab
        token = top_index % vocab
        candidates = running.gather(1, beam[:, :, None].expand(-1, -1, max_length)).clone()
        candidates[:, :, cur] = token
        hits = (token == eos) | (cur + 1 >= max_length)           # (b, keep): a stopping criterion
        # the best `k` candidates that go on
        alive_scores = top_scores + hits.float() * neg
        nxt = torch.topk(alive_scores, k).indices
        running = candidates.gather(1, nxt[:, :, None].expand(-1, -1, max_length))
        running_scores = alive_scores.gather(1, nxt)
        parent = beam.gather(1, nxt)                               # which old beam each new one extends
        # candidates among the top k that just finished join the finished hypotheses
        just_finished = hits & top_k_mask[None]
        scored = top_scores / (cur + 1 - 1)                         # length penalty 1 over generated tokens
        scored = scored + (~improvable).float() * neg + (~just_finished).float() * neg
        merged = torch.cat([finished, candidates], dim=1)
        merged_scores = torch.cat([finished_scores, scored], dim=1)
        merged_done = torch.cat([is_finished, just_finished], dim=1)
        best = torch.topk(merged_scores, k).indices
        finished = merged.gather(1, best[:, :, None].expand(-1, -1, max_length))
        finished_scores = merged_scores.gather(1, best)
        is_finished = merged_done.gather(1, best)
        cache.reorder((parent + batch_offset).reshape(-1))
        cur += 1
        best_running = running_scores[:, :1] / (cur - 1)
        worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True).values,
                                     torch.full_like(finished_scores, neg))
        improvable = improvable & (best_running > worst_finished).any(dim=-1, keepdim=True)
        if not improvable.any() or hits.all():
            break
        step_input = running[:, :, cur - 1].reshape(b * k, 1)
    return finished[:, 0, :_output_length(finished[:, 0], eos, max_length)]


def _output_length(sequences: torch.Tensor, eos: int, max_length: int) -> int:
    """Prompt plus the longest generated part (its EOS included) over the returned sequences."""
    generated = sequences[:, 1:]
    is_eos = generated == eos
    first = torch.where(is_eos.any(dim=1), is_eos.float().argmax(dim=1) + 1,
                        torch.full((generated.shape[0],), generated.shape[1], device=generated.device))
    return int(min(1 + int(first.max()), max_length))
