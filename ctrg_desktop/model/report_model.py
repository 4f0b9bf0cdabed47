"""The structure-query report model: encoder + observer + stage-1 heads + report decoder.

Stage 1 (:meth:`StructureReportModel.structure_loss`) aligns each structure token with the
text of that structure; stage 2 (:meth:`StructureReportModel.report_loss`) trains the decoder
on the visual tokens [S; T] with the encoder and queries frozen (:meth:`freeze_for_stage2`).

Batches are dicts: ``volume`` (B, 1, D, H, W) or (B, D, H, W) float; stage 1 also
``text_embeddings`` (B, N, text_dim) or ``structure_texts`` (B lists of N strings); stage 2
``reports`` (B strings) or pre-tokenised ``input_ids``/``attention_mask``/``labels`` (B, L).
The decoder is the BERT-style one or, with ``decoder.kind = "llm"``, a causal LM with LoRA
(:mod:`ctrg_desktop.model.llm_decoder`); both read [S; T] through the same interface.
With ``fusion.enabled`` a retrieved reference report (batch ``reference_reports``, B strings, ""
= none) is fused into the visual tokens first (:mod:`ctrg_desktop.model.fusion`); without
references the model behaves exactly as one without fusion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ctrg_desktop.model.catalogue import CONFIG_NAME
from ctrg_desktop.model.checkpoint import load_checkpoint, save_checkpoint
from ctrg_desktop.model.config import DecoderConfig, ModelConfig
from ctrg_desktop.model.decoder import ReportDecoder
from ctrg_desktop.model.encoder import VolumeEncoder
from ctrg_desktop.model.fusion import PromptFusion
from ctrg_desktop.model.losses import mask_attention_loss, observation_loss, structure_contrastive_loss
from ctrg_desktop.model.observation import ObservationHeads, label_structure_indices
from ctrg_desktop.model.observer import StructureObserver
from ctrg_desktop.model.queue import DiversityQueue
from ctrg_desktop.model.reference_prompts import ReferencePromptBuilder, ReferencePrompts
from ctrg_desktop.model.text_encoder import TextEncoder


@dataclass
class VisualOutput:
    """patch_features (B, P, enc_dim); structure_tokens (B, N, dim); attention (B, N, P);
    topk_indices (B, N, K) into the PatchGrid numbering; topk_features (B, N, K, dim);
    observation_logits (B, 18) in CT-RATE label order, or None for a model without observation
    heads; observation_tokens (B, 18, dim) for the decoder, or None; tokens: which of S and T the
    decoder reads ("both", "structures", "patches")."""

    patch_features: torch.Tensor
    structure_tokens: torch.Tensor
    attention: torch.Tensor
    topk_indices: torch.Tensor
    topk_features: torch.Tensor
    observation_logits: torch.Tensor | None = None
    observation_tokens: torch.Tensor | None = None
    tokens: str = "both"

    def decoder_tokens(self) -> torch.Tensor:
        """[S; T; O] as one sequence: (B, N + N*K (+ 18), dim), per ``tokens``."""
        b, n, k, dim = self.topk_features.shape
        parts = []
        if self.tokens in ("both", "structures"):
            parts.append(self.structure_tokens)
        if self.tokens in ("both", "patches") and k:
            parts.append(self.topk_features.reshape(b, n * k, dim))
        if self.observation_tokens is not None:
            parts.append(self.observation_tokens)
        return torch.cat(parts, dim=1)

    def observation_probabilities(self) -> torch.Tensor | None:
        """(B, 18) sigmoid of the observation logits, or None."""
        return None if self.observation_logits is None else self.observation_logits.sigmoid()


def build_decoder(config: DecoderConfig, visual_dim: int, tokenizer=None) -> nn.Module:
    """The report decoder of ``config.kind``: :class:`ReportDecoder` ("bert", ``tokenizer`` shared
    when given) or :class:`~ctrg_desktop.model.llm_decoder.LLMReportDecoder` ("llm", which uses its
    base model's tokenizer)."""
    if config.kind == "llm":
        from ctrg_desktop.model.llm_decoder import LLMReportDecoder

        return LLMReportDecoder(config, visual_dim=visual_dim)
    return ReportDecoder(config, visual_dim=visual_dim, tokenizer=tokenizer)


def _saved_fusion(folder) -> bool:
    """Whether the checkpoint folder's config has fusion enabled (an unreadable one counts as
    yes, so that :func:`load_checkpoint` reports the problem)."""
    try:
        return ModelConfig.load(Path(folder) / CONFIG_NAME).fusion.enabled
    except ValueError:
        return True


class StructureReportModel(nn.Module):
    """``StructureReportModel(config)``; pass ``tokenizer``/``text_encoder`` to share loaded ones
    (``tokenizer``: the BERT decoder's; an LLM decoder brings its base model's)."""

    def __init__(self, config: ModelConfig, tokenizer=None, text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = config
        s1 = config.stage1
        self.encoder = VolumeEncoder(config.encoder)
        self.observer = StructureObserver(config.observer, in_dim=config.encoder.dim)
        self.image_proj = nn.Linear(config.observer.dim, s1.proj_dim)
        self.text_proj = nn.Linear(s1.text_dim, s1.proj_dim)
        if s1.text_proj == "frozen":
            self.text_proj.requires_grad_(False)
        log_temp = torch.tensor(float(s1.temperature)).log()
        if s1.learnable_temperature:
            self.log_temperature = nn.Parameter(log_temp)
        else:
            self.register_buffer("log_temperature", log_temp)
        self.queue = DiversityQueue(config.observer.num_structures, s1.queue_size, s1.proj_dim,
                                    mode=s1.queue_update, score=s1.queue_score)
        self.observation = None
        if config.observation.enabled:
            from ctrg_desktop.reports.structures import load_structure_set

            names = load_structure_set(config.structure_set).names
            self.observation = ObservationHeads(config.observer.dim, config.observation.hidden,
                                                label_structure_indices(names))
        #: BCE positive weights per label (set by training for ``observation.balance = "pos_weight"``).
        self.observation_pos_weight: torch.Tensor | None = None
        self.decoder = build_decoder(config.decoder, config.observer.dim, tokenizer)
        self._text_encoder = text_encoder
        self.fusion = None
        if config.fusion.enabled:
            self.fusion = PromptFusion(config.fusion, config.observer.dim, s1.text_dim)
        self._prompt_builder = ReferencePromptBuilder(s1.text_dim, config.fusion.max_sentences)

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp().clamp(0.001, 0.5)

    @property
    def text_encoder(self) -> TextEncoder:
        """The frozen sentence encoder, loaded on first use (not part of the checkpoint)."""
        if self._text_encoder is None:
            s1 = self.config.stage1
            self._text_encoder = TextEncoder(s1.text_encoder, pooling=s1.pooling)
        return self._text_encoder

    def encode(self, volume: torch.Tensor) -> VisualOutput:
        """volume (B, 1, D, H, W) -> :class:`VisualOutput`."""
        patches = self.encoder(volume)
        obs = self.observer(patches)
        logits = tokens = None
        if self.observation is not None:
            logits = self.observation(obs.tokens, obs.attention, obs.values)
            if self.config.observation.to_decoder:
                tokens = self.observation.decoder_tokens(logits)
        return VisualOutput(patches, obs.tokens, obs.attention, obs.topk_indices, obs.topk_features,
                            logits, tokens, self.config.observer.tokens)

    def text_features(self, batch: dict) -> torch.Tensor:
        """Normalised projected text features (B, N, proj_dim) from embeddings or raw texts."""
        emb = batch.get("text_embeddings")
        if emb is None:
            texts = batch["structure_texts"]
            flat = self.text_encoder.encode([t for study in texts for t in study])
            emb = flat.view(len(texts), -1, flat.shape[-1])
        emb = emb.to(self.text_proj.weight.device, self.text_proj.weight.dtype)
        return F.normalize(self.text_proj(emb), dim=-1)

    def structure_loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """Stage 1: {"loss", "itc", "kl"} plus "mask" (with ``stage1.mask_weight`` and a batch
        ``coverage`` (B, P, N) + ``has_mask`` (B,)) and "obs" (with observation heads and batch
        ``labels`` (B, 18), -1 unknown); in training mode the texts then enter the queue.

        loss = itc_weight * contrastive + mask_weight * mask + observation.weight * obs."""
        s1 = self.config.stage1
        visual = self.encode(batch["volume"])
        loss = visual.structure_tokens.new_zeros(())
        out: dict[str, torch.Tensor] = {}
        if s1.itc_weight > 0:
            image = F.normalize(self.image_proj(visual.structure_tokens), dim=-1)
            text = self.text_features(batch)
            queue = self.queue.features.clone().detach() if s1.use_queue else None
            mask = self.queue.valid_mask() if s1.use_queue else None
            out = structure_contrastive_loss(image, text, queue, mask, self.temperature, s1.alpha, s1.use_kl,
                                             other_weight=s1.other_structure_weight)
            loss = s1.itc_weight * out["loss"]
            if self.training and s1.use_queue:
                self.queue.update(text)
        if s1.mask_weight > 0 and "coverage" in batch:
            out["mask"] = mask_attention_loss(visual.attention, batch["coverage"], s1.mask_power,
                                              batch.get("has_mask"))
            loss = loss + s1.mask_weight * out["mask"]
        if visual.observation_logits is not None and "labels" in batch:
            weight = self.observation_pos_weight
            weight = None if weight is None else weight.to(visual.observation_logits.device)
            out["obs"] = observation_loss(visual.observation_logits, batch["labels"], weight)
            loss = loss + self.config.observation.weight * out["obs"]
        out["loss"] = loss
        return out

    def _visual_trainable(self) -> bool:
        parts = (self.encoder, self.observer) + ((self.observation,) if self.observation is not None else ())
        return any(p.requires_grad for part in parts for p in part.parameters())

    def reference_prompts(self, reports: list[str]) -> ReferencePrompts:
        """B reference reports ("" = none) -> prompt tensors (cached per report text)."""
        return self._prompt_builder(list(reports), self.text_encoder.encode)

    def _uses_references(self, reports, batch_size: int) -> bool:
        """Whether ``reports`` are fused: a fusion module and at least one non-empty report."""
        if self.fusion is None or reports is None:
            return False
        if (isinstance(reports, str) or len(reports) != batch_size
                or not all(r is None or isinstance(r, str) for r in reports)):
            raise ValueError(f"reference_reports must be a list of {batch_size} strings (one per study)")
        return any(r and r.strip() for r in reports)

    def report_loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """Stage 2: {"loss"} = next-token cross-entropy of the reports given [S; T]; with fusion
        also "consistency" (added to the loss times ``fusion.consistency_weight``)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._visual_trainable()):
            visual = self.encode(batch["volume"]).decoder_tokens()
        out: dict[str, torch.Tensor] = {}
        references = batch.get("reference_reports")
        if self._uses_references(references, visual.shape[0]):
            fused = self.fusion(visual, self.reference_prompts(references))
            visual, out["consistency"] = fused.tokens, fused.consistency
        elif self.fusion is not None:
            out["consistency"] = visual.new_zeros(())
        if "input_ids" in batch:
            tokens = {k: batch[k].to(visual.device) for k in ("input_ids", "attention_mask", "labels")}
        else:
            tokens = self.decoder.tokenize(batch["reports"], device=visual.device)
        loss = self.decoder.loss(visual, **tokens)
        if "consistency" in out:
            loss = loss + self.config.fusion.consistency_weight * out["consistency"]
        return {"loss": loss, **out}

    @torch.no_grad()
    def generate(self, volume: torch.Tensor, reference_reports: list[str] | None = None, **gen_kwargs) -> list[str]:
        """volume (B, 1, D, H, W) -> B report drafts (see :meth:`ReportDecoder.generate`).

        ``reference_reports``: B retrieved reports ("" = none) fused into the visual tokens;
        ignored by a model without fusion."""
        return self.decoder.generate(self.decoder_input(self.encode(volume), reference_reports), **gen_kwargs)

    def decoder_input(self, visual: VisualOutput, reference_reports: list[str] | None = None) -> torch.Tensor:
        """The tokens the decoder reads: [S; T; O] of ``visual``, with the B ``reference_reports``
        fused in when the model has a fusion module (unchanged otherwise)."""
        tokens = visual.decoder_tokens()
        if self._uses_references(reference_reports, tokens.shape[0]):
            tokens = self.fusion(tokens, self.reference_prompts(reference_reports), with_consistency=False).tokens
        return tokens

    def freeze_for_stage2(self) -> "StructureReportModel":
        """Freeze everything but the decoder and the fusion (encoder, queries, projections,
        temperature)."""
        for part in (self.encoder, self.observer, self.image_proj, self.text_proj, self.observation):
            if part is not None:
                part.requires_grad_(False)
        if isinstance(self.log_temperature, nn.Parameter):
            self.log_temperature.requires_grad_(False)
        return self.train(self.training)

    def train(self, mode: bool = True) -> "StructureReportModel":
        """As ``nn.Module.train``, but frozen encoder/observer stay in eval mode (no dropout)."""
        super().train(mode)
        if not self._visual_trainable():
            self.encoder.eval()
            self.observer.eval()
            if self.observation is not None:
                self.observation.eval()
        return self

    def save_pretrained(self, folder) -> None:
        """``folder/config.json`` + ``folder/model.safetensors``."""
        save_checkpoint(self, folder)

    def load_weights(self, folder, map_location="cpu", exclude: tuple[str, ...] = ()) -> "StructureReportModel":
        """Load a checkpoint folder into this model; ``ValueError`` naming config/shape differences.

        ``exclude``: top-level parts (e.g. ``("decoder",)``) left as they are, their config and
        tensors not compared (a stage-1 model's encoder and queries under a new decoder).
        A checkpoint without fusion loads into a model with fusion: the fusion starts at its
        zero output (the model then computes exactly what the checkpoint's model did)."""
        fresh_fusion = self.fusion is not None and "fusion" not in exclude and not _saved_fusion(folder)
        if fresh_fusion:
            exclude = tuple(exclude) + ("fusion",)
        load_checkpoint(self, folder, map_location=map_location, exclude=exclude)
        if fresh_fusion:
            self.fusion.reset_output()
        return self

    @classmethod
    def from_pretrained(cls, folder, map_location="cpu", **kwargs) -> "StructureReportModel":
        """Build from ``folder/config.json`` and load its weights; ``ValueError`` if they disagree."""
        config = ModelConfig.load(f"{folder}/config.json")
        return cls(config, **kwargs).load_weights(folder, map_location=map_location)
