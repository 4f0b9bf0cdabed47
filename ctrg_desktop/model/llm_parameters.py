"""Parameter counts of an LLM decoder without reading weights: from the base's GGUF tensor table, or
its Hugging Face config built on the meta device (torch, imported there only)."""

from __future__ import annotations

import math
import warnings

from ctrg_desktop.model.config import DecoderConfig, LLMConfig
from ctrg_desktop.model.gguf import gguf_tensor_shapes
from ctrg_desktop.model.llm_base import BaseModel, BaseModelError, from_pretrained_kwargs, resolve_base

#: LoRA target (Hugging Face Llama-style layer name) -> the GGUF tensor name of that layer
_GGUF_LAYERS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def _gguf_counts(base: BaseModel, llm: LLMConfig) -> tuple[int, int, int]:
    """(base parameters, LoRA parameters, LLM width) from the GGUF tensor table."""
    shapes = gguf_tensor_shapes(base.location)
    total = sum(math.prod(shape) for shape in shapes.values())
    lora = 0
    for target in llm.lora_targets:
        if target not in _GGUF_LAYERS:
            raise BaseModelError(f"cannot count LoRA parameters on {target!r} of a GGUF base (known: "
                                 f"{sorted(_GGUF_LAYERS)})")
        suffix = f".{_GGUF_LAYERS[target]}.weight"
        lora += sum(llm.lora_r * (shape[0] + shape[1]) for name, shape in shapes.items() if name.endswith(suffix))
    return total, lora, shapes["token_embd.weight"][0]


def _meta_counts(base: BaseModel, llm: LLMConfig) -> tuple[int, int, int]:
    """(base parameters, LoRA parameters, LLM width) of a Hugging Face folder, built on the meta device."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        base_config = AutoConfig.from_pretrained(base.folder, **from_pretrained_kwargs(base))
    except (OSError, ValueError, KeyError) as exc:
        raise BaseModelError(f"cannot read the config of base model {llm.base!r}: {str(exc).splitlines()[0]}") from exc
    with torch.device("meta"):
        lm = AutoModelForCausalLM.from_config(base_config)
        lm.requires_grad_(False)
        total = sum(p.numel() for p in lm.parameters())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lora = LoraConfig(r=llm.lora_r, lora_alpha=llm.lora_alpha, target_modules=list(llm.lora_targets),
                              bias="none", task_type="CAUSAL_LM")
            lm = get_peft_model(lm, lora)
    trainable = sum(p.numel() for p in lm.parameters() if p.requires_grad)
    return total, trainable, lm.get_input_embeddings().embedding_dim


def count_parameters(config: DecoderConfig, visual_dim: int) -> tuple[int, int]:
    """(all, trainable) parameters of an LLM decoder, from the base's GGUF tensor table or config (no weights read)."""
    llm = config.llm
    base = resolve_base(llm.base)
    base_total, lora, width = _gguf_counts(base, llm) if base.gguf_file else _meta_counts(base, llm)
    projector = visual_dim * llm.projector_hidden + llm.projector_hidden + llm.projector_hidden * width + width
    return base_total + lora + projector, lora + projector
