"""The training loop of both stages: AdamW, warm-up + linear decay, clipping, AMP, DDP, checkpoints.

``train(TrainConfig, data_dir, out_dir)`` runs stage 1 ("structure": structure-wise contrastive
loss, decoder frozen) or stage 2 ("report": ``freeze_for_stage2``, decoder next-token loss) and
leaves in ``OUT``::

    OUT/train_config.json       the resolved run: train config, model config, world size, device, data
    OUT/train_log.jsonl         one line per log interval: step, loss parts, lr, samples/s, elapsed
    OUT/checkpoints/step-*/     periodic checkpoints (see :mod:`ctrg_desktop.training.checkpoint`)
    OUT/model/                  the final model (config.json, model.safetensors, card.md) for the zoo

``resume=True`` continues from the newest checkpoint in ``OUT`` at the same step, with the same
data order, RNG states and optimizer state, so the following losses equal an uninterrupted run's
(exactly on CPU). Under ``torchrun`` every process runs this function; rank 0 writes the files.
The model's set-up: :mod:`~ctrg_desktop.training.model_setup`; the log and the final model folder:
:mod:`~ctrg_desktop.training.loop_outputs`.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ctrg_desktop.data.ctrate import CTRateDataset, label_legend
from ctrg_desktop.devices import resolve_device
from ctrg_desktop.model.checkpoint import config_differences, with_defaults
from ctrg_desktop.model.config import ModelConfig
from ctrg_desktop.model.report_model import StructureReportModel
from ctrg_desktop.training import distributed as dist_utils
from ctrg_desktop.training import stop as stop_request
from ctrg_desktop.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_training_state,
    read_train_config,
    save_training_checkpoint,
    set_rng_state,
)
from ctrg_desktop.training.config import TrainConfig
from ctrg_desktop.training.balance import label_matrix, positive_weights, resampling_weights
from ctrg_desktop.training.dataset import ShardedBatchSampler, StudyDataset, collate, read_reference_reports
from ctrg_desktop.training.schedule import lr_at, warmup_steps
from ctrg_desktop.training.loop_outputs import (RUN_CONFIG_NAME, append_jsonl, log_interval, rewrite_log,
                                                write_final_model)
from ctrg_desktop.training.model_setup import (StageLoss, build_training_model, make_optimizer,
                                               resolve_model_config)

LOG_NAME = "train_log.jsonl"
# Train-config fields a resumed run must share with its checkpoint (the data order and model depend on them).
_RESUME_FIXED = ("stage", "batch_size", "seed", "report_text", "train_split", "freeze_visual", "references")


@dataclass
class TrainResult:
    """What a run did: ``losses`` holds one dict of loss parts per step run by this call."""

    out_dir: Path
    model_dir: Path | None
    start_step: int
    step: int
    total_steps: int
    losses: list[dict] = field(default_factory=list)
    steps_per_s: float = 0.0
    samples_per_s: float = 0.0
    world_size: int = 1
    model: StructureReportModel | None = field(default=None, repr=False)


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


# ----------------------------------------------------------------------------------- the run

class _Run:
    """State of one call of :func:`train` (kept out of the public function to keep it short)."""

    def __init__(self, cfg: TrainConfig, data_dir, out_dir, resume: bool, model_kwargs: dict, stream):
        self.cfg, self.stream = cfg, stream
        self.out = Path(out_dir)
        self.device = resolve_device(cfg.device)
        self.info = dist_utils.init_distributed(str(self.device))
        if self.device.type == "cuda" and self.info.enabled:
            self.device = torch.device("cuda", self.info.local_rank)
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            raise ValueError(f"data folder {self.data_dir} does not exist")
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)

        model_config, self.parent = resolve_model_config(cfg)
        self.resume_from = latest_checkpoint(self.out) if resume else None
        if resume and self.resume_from is None:
            self.log(f"--resume: no checkpoint in {self.out / 'checkpoints'}; starting at step 0")
        if self.resume_from is not None:
            self._check_resumable(model_config)
        if cfg.stage == "report" and cfg.freeze_visual and self.parent is None and self.resume_from is None:
            self.log("note: stage 'report' without init_from trains the decoder on a random frozen encoder")
        self.model = build_training_model(cfg, model_config, self.parent if self.resume_from is None else None,
                                          **model_kwargs).to(self.device)
        if self.device.type == "cuda" and cfg.stage == "structure":
            self.model.text_encoder.to(self.device)
        if self.info.enabled:
            self.model.queue.gather_fn = dist_utils.all_gather_cat
        self.model.train()

        self.references = read_reference_reports(cfg.references, self.data_dir) if cfg.references else None
        self.train_set = self._dataset(cfg.train_split)
        if len(self.train_set) == 0:
            raise ValueError(f"no '{cfg.train_split}' studies in {self.data_dir}")
        self.sampler = ShardedBatchSampler(len(self.train_set), cfg.batch_size, self.info.rank,
                                           self.info.world_size, seed=cfg.seed)
        self._observation_balance()
        self._embed_texts()
        self.loader = self._loader(self.train_set, self.sampler)
        self.total = cfg.steps if cfg.steps is not None else cfg.epochs * len(self.sampler)
        self.optimizer = make_optimizer(self.model, cfg)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision)
        if self.device.type != "cuda":
            self.amp_dtype = None
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.net: nn.Module = StageLoss(self.model, cfg.stage)
        if self.info.enabled:
            ids = [self.info.local_rank] if self.device.type == "cuda" else None
            # The queue is kept equal on all ranks by its gathered updates: no buffer broadcast.
            # A batch without references leaves the fusion without gradients: allow unused parameters then.
            unused = self.model.fusion is not None
            self.net = nn.parallel.DistributedDataParallel(self.net, device_ids=ids, broadcast_buffers=False,
                                                           find_unused_parameters=unused)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        if self.resume_from is not None:
            self._restore()

    # -- helpers
    def log(self, message: str) -> None:
        dist_utils.log_main(message, self.info, file=self.stream)

    def _dataset(self, split: str) -> StudyDataset:
        records = CTRateDataset(self.data_dir, split, missing=self.cfg.missing_volumes)
        cache = self.cfg.cache_dir
        cache = self.out / "cache" if cache == "auto" else (Path(cache) if cache else None)
        masks = self.cfg.stage == "structure" and self.model.config.stage1.mask_weight > 0
        legend = label_legend(self.data_dir) if masks else None
        return StudyDataset(records, self.model.config, cache_dir=cache, report_text=self.cfg.report_text,
                            with_coverage=masks, legend=legend, references=self.references)

    def _embed_texts(self) -> None:
        """Stage 1: embed every distinct structure text of the training split once, in large batches
        (the frozen encoder's cache then serves every step instead of a few texts per step)."""
        s1 = self.model.config.stage1
        if self.cfg.stage != "structure" or s1.itc_weight == 0:
            return
        texts = {t for record in self.train_set.records for t in self.train_set.texts(record)[0]}
        encoder = self.model.text_encoder
        if len(texts) > encoder.cache_size:
            self.log(f"note: {len(texts)} distinct structure texts exceed the text cache ({encoder.cache_size})")
            return
        started = time.perf_counter()
        encoder.encode(sorted(texts))
        self.log(f"embedded {len(texts)} distinct structure texts in {time.perf_counter() - started:.1f} s")

    def _observation_balance(self) -> None:
        """``observation.balance``: BCE positive weights, or sampling weights, from the training labels."""
        obs = self.model.config.observation
        if self.cfg.stage != "structure" or not obs.enabled or obs.balance == "none":
            return
        labels = label_matrix(self.train_set.records)
        if obs.balance == "pos_weight":
            self.model.observation_pos_weight = positive_weights(labels)
        else:
            self.sampler.weights = resampling_weights(labels)

    def _loader(self, dataset, batch_sampler) -> DataLoader:
        workers = self.cfg.num_workers
        # Own generator: creating a loader iterator must not draw from the global RNG (resume = exact).
        return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collate, num_workers=workers,
                          persistent_workers=workers > 0, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.cfg.seed))

    def resolved(self) -> dict:
        train = self.cfg.to_dict()
        train.update(lr=self.cfg.learning_rate, steps=self.total)
        return {"train": train, "model": self.model.config.to_dict(),
                "run": {"data": str(self.data_dir.resolve()), "out": str(self.out.resolve()),
                        "parent": str(self.parent.resolve()) if self.parent else None,
                        "world_size": self.info.world_size, "device": self.device.type,
                        "global_batch": self.cfg.batch_size * self.info.world_size,
                        "warmup_steps": warmup_steps(self.total, self.cfg.warmup_fraction),
                        "steps_per_epoch": len(self.sampler), "torch": torch.__version__}}

    def _check_resumable(self, model_config: ModelConfig) -> None:
        saved = read_train_config(self.resume_from)
        saved_train, saved_run = saved.get("train", {}), saved.get("run", {})
        diffs = [f"{k} {saved_train.get(k)!r} -> {getattr(self.cfg, k)!r}" for k in _RESUME_FIXED
                 if saved_train.get(k) != getattr(self.cfg, k)]
        if saved_run.get("world_size", 1) != self.info.world_size:
            diffs.append(f"world_size {saved_run.get('world_size')} -> {self.info.world_size}")
        model_diffs = config_differences(with_defaults(ModelConfig, saved.get("model", {})), model_config.to_dict())
        if model_diffs:
            diffs.append("model config " + ", ".join(model_diffs[:3]))
        if diffs:
            raise CheckpointError(f"cannot resume from {self.resume_from}: the run changed ({'; '.join(diffs)})")

    def _restore(self) -> None:
        state = load_training_state(self.resume_from)
        try:
            self.model.load_weights(self.resume_from)
            self.optimizer.load_state_dict(state.optimizer)
        except ValueError as exc:
            raise CheckpointError(f"cannot resume from {self.resume_from}: {str(exc).splitlines()[0]}") from exc
        if self.scaler is not None and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        set_rng_state(state.rng)
        self.step, self.epoch, self.batch_in_epoch = state.step, state.epoch, state.batch_in_epoch
        if self.step > self.total:
            raise CheckpointError(f"checkpoint {self.resume_from} is at step {self.step}, past the "
                                  f"run's {self.total} steps")
        self.log(f"resuming from {self.resume_from} at step {self.step}")

    def save_checkpoint(self) -> Path | None:
        path = None
        if self.info.is_main:
            schedule = {"kind": "warmup_linear", "base_lr": self.cfg.learning_rate, "total_steps": self.total,
                        "warmup_fraction": self.cfg.warmup_fraction, "step": self.step}
            path = save_training_checkpoint(self.out, self.model, self.optimizer, step=self.step, epoch=self.epoch,
                                            batch_in_epoch=self.batch_in_epoch, train_config=self.resolved(),
                                            scheduler=schedule, scaler=self.scaler, keep=self.cfg.keep_checkpoints)
        dist_utils.barrier()
        return path

    # -- one step
    def train_step(self, batch: dict) -> dict[str, float]:
        cfg = self.cfg
        lr = lr_at(self.step, self.total, cfg.learning_rate, cfg.warmup_fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = _to_device(batch, self.device)
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None
                    else nullcontext())
        with autocast:
            out = self.net(batch)
        loss = out["loss"]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {self.step}")
        self.optimizer.zero_grad(set_to_none=True)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        parts = {k: float(v.detach()) for k, v in out.items()}
        parts.update(lr=lr, grad_norm=float(grad_norm))
        return parts

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean stage loss over the first ``eval_batches`` batches of the eval split (rank 0)."""
        try:
            dataset = self._dataset(self.cfg.eval_split)
        except ValueError:
            return None
        if len(dataset) < self.cfg.batch_size:
            return None
        loader = DataLoader(dataset, batch_size=self.cfg.batch_size, shuffle=False, drop_last=True,
                            collate_fn=collate, num_workers=self.cfg.num_workers)
        self.model.eval()
        losses = []
        try:
            for i, batch in enumerate(loader):
                if i >= self.cfg.eval_batches:
                    break
                fn = self.model.structure_loss if self.cfg.stage == "structure" else self.model.report_loss
                losses.append(float(fn(_to_device(batch, self.device))["loss"]))
        finally:
            self.model.train()
        return sum(losses) / len(losses) if losses else None


def train(cfg: TrainConfig, data_dir, out_dir, resume: bool = False, stop_after: int | None = None,
          stream=None, **model_kwargs) -> TrainResult:
    """Run one training stage (see the module docstring); returns a :class:`TrainResult`.

    ``stop_after``: stop after this step without a final checkpoint or model, as a crash would
    (for tests of ``resume``). ``model_kwargs`` (``tokenizer``, ``text_encoder``) go to the model.
    Raises ``ValueError`` / :class:`CtrgError` subclasses with one-line messages for bad input.
    """
    stream = stream if stream is not None else sys.stderr
    run = _Run(cfg, data_dir, out_dir, resume, model_kwargs, stream)
    cfg, info = run.cfg, run.info
    log_path = run.out / LOG_NAME
    if info.is_main:
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / RUN_CONFIG_NAME).write_text(json.dumps(run.resolved(), indent=2) + "\n")
        if run.resume_from is not None:
            rewrite_log(log_path, run.step)
        elif log_path.exists():
            log_path.unlink()
    result = TrainResult(run.out, None, run.step, run.step, run.total, world_size=info.world_size,
                         model=run.model)
    run.log(f"stage {cfg.stage}: {run.total} steps of {cfg.batch_size} x {info.world_size} studies on "
            f"{run.device.type}, {len(run.train_set)} training studies, lr {cfg.learning_rate:.1e}")

    run.sampler.set_epoch(run.epoch, run.batch_in_epoch)
    batches = iter(run.loader)
    started = last_time = time.perf_counter()
    window: list[dict] = []
    last_saved = run.step if run.resume_from is not None else -1
    try:
        while run.step < run.total:
            try:
                batch = next(batches)
            except StopIteration:
                run.epoch, run.batch_in_epoch = run.epoch + 1, 0
                run.sampler.set_epoch(run.epoch)
                batches = iter(run.loader)
                continue
            parts = run.train_step(batch)
            run.step += 1
            run.batch_in_epoch += 1
            result.losses.append(parts)
            window.append(parts)
            done = run.step - result.start_step
            if (cfg.log_every and run.step % cfg.log_every == 0) or run.step == run.total:
                now = time.perf_counter()
                log_interval(run, window, now - last_time, now - started, done, log_path)
                window, last_time = [], now
            if cfg.eval_every and run.step % cfg.eval_every == 0 and info.is_main:
                eval_loss = run.evaluate()
                if eval_loss is not None:
                    append_jsonl(log_path, {"step": run.step, "eval_loss": eval_loss})
                    run.log(f"step {run.step}/{run.total} eval loss {eval_loss:.4f}")
            if stop_after is not None and run.step >= stop_after:
                break
            if cfg.checkpoint_every and run.step % cfg.checkpoint_every == 0 and run.step < run.total:
                run.save_checkpoint()
                last_saved = run.step
            if run.step < run.total and stop_request.agreed(run.device):  # Stop (SIGINT/SIGTERM), see stop.py
                path = run.save_checkpoint() if run.step > last_saved else latest_checkpoint(run.out)
                last_saved = run.step
                run.log(f"stopped: checkpoint {path} written; continue with --resume")
                raise stop_request.TrainingStopped(path, stop_request.signal_number())
    except KeyboardInterrupt:
        if not info.enabled and run.step > last_saved:
            path = run.save_checkpoint()
            run.log(f"interrupted: checkpoint {path} written; continue with --resume")
        raise

    elapsed = time.perf_counter() - started
    result.step = run.step
    done = run.step - result.start_step
    result.steps_per_s = done / elapsed if elapsed > 0 else 0.0
    result.samples_per_s = result.steps_per_s * cfg.batch_size * info.world_size
    if stop_after is not None and run.step < run.total:
        return result
    if run.step > last_saved:
        run.save_checkpoint()
    if info.is_main:
        result.model_dir = write_final_model(run, result)
        run.log(f"done: {run.step} steps in {elapsed:.1f} s; model written to {result.model_dir}")
    dist_utils.barrier()
    return result
