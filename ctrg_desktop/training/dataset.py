"""Training samples from a CT-RATE layout folder, preprocessed exactly as the model sees studies.

``StudyDataset(records, model_config)[i]`` ->
``{"volume": (1, D, H, W) float32, "structure_texts": N str, "report": str, "labels": (18,) long,
"name": str}`` plus, with ``with_coverage``, ``"coverage"`` (P, N) float32 (each model patch's share
in each structure, from the study's label map; zeros without one) and ``"has_mask"`` bool;
:func:`collate` stacks a list of them into a batch for ``StructureReportModel.structure_loss`` /
``report_loss`` (``volume`` (B, 1, D, H, W), ``structure_texts`` B lists of N, ``reports`` B
strings, ``labels`` (B, 18), ``names``, and ``coverage`` (B, P, N) + ``has_mask`` (B,)).
With ``references`` (:func:`read_reference_reports`) a sample also has ``"reference_report"``
(the findings of the study's retrieved reference, "" for none) and a batch ``reference_reports``.

Preprocessing (resample to the model spacing, crop/pad, HU window) costs far more than a step of
the demo model, so the arrays can be cached on disk: ``CACHE/<preprocessing hash>/<name>-<source
hash>.npy``; the first key changes with spacing/shape/window, the second with the source file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ctrg_desktop.atomic import atomic_path
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.imaging.pipeline import prepare_volume
from ctrg_desktop.model.config import ModelConfig
from ctrg_desktop.model.decoder import join_structure_texts
from ctrg_desktop.reports.parser import parse_report
from ctrg_desktop.reports.structures import load_structure_set

PREPROCESSING_VERSION = 1


def preprocessing_key(model_config: ModelConfig) -> str:
    """Short hash of everything that decides the model input array of a study."""
    enc = model_config.encoder
    window = enc.hu_window
    spec = {"version": PREPROCESSING_VERSION, "spacing": list(enc.spacing), "shape": list(enc.input_shape),
            "window": [window.lo, window.hi, window.centre, window.scale]}
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def _source_key(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


class StudyDataset(Dataset):
    """Samples of CT-RATE records (:class:`ctrg_desktop.data.ctrate.CTRateRecord`) for a model config.

    ``report_text`` "findings" (the decoder learns the findings as written) or "structures"
    (the findings' sentences regrouped per structure and joined in structure order, without
    default sentences). ``cache_dir`` None disables the on-disk cache. ``references``: study name
    -> the reference report fused into its draft (studies not in it get "").
    """

    def __init__(self, records, model_config: ModelConfig, cache_dir=None, report_text: str = "findings",
                 with_coverage: bool = False, legend=None, references: dict[str, str] | None = None):
        if report_text not in ("findings", "structures"):
            raise ValueError(f"report_text must be 'findings' or 'structures', got {report_text!r}")
        self.with_coverage, self.legend = with_coverage, legend
        self.references = references
        self.records = list(records)
        self.model_config = model_config
        self.structures = load_structure_set(model_config.structure_set)
        self.report_text = report_text
        self.cache_dir = None
        if cache_dir is not None:
            self.cache_dir = Path(cache_dir) / preprocessing_key(model_config)
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self.records)

    def volume_array(self, record) -> np.ndarray:
        """The model input (D, H, W) float32 of one record, from the cache when present."""
        path = Path(record.volume_path)
        cached = None
        if self.cache_dir is not None:
            cached = self.cache_dir / f"{record.volume_name}-{_source_key(path)}.npy"
            if cached.is_file():
                try:
                    return np.load(cached)
                except (OSError, ValueError):
                    cached.unlink(missing_ok=True)  # a torn file from an old crash: rebuild it
        from ctrg_desktop.io.readers import read_study

        enc = self.model_config.encoder
        array = prepare_volume(read_study(path), enc.spacing, enc.input_shape, enc.hu_window).input
        array = np.ascontiguousarray(array, dtype=np.float32)
        if cached is not None:
            _save_npy_atomic(cached, array)
        return array

    def coverage(self, record) -> np.ndarray | None:
        """(P, N) float32 share of each model patch in each structure, from the record's label map
        (None without one); cached beside the volume arrays."""
        if record.label_map_path is None:
            return None
        path = Path(record.label_map_path)
        cached = None
        if self.cache_dir is not None:
            cached = self.cache_dir / f"{record.volume_name}-{_source_key(path)}.coverage.npy"
            if cached.is_file():
                try:
                    return np.load(cached).astype(np.float32)
                except (OSError, ValueError):
                    cached.unlink(missing_ok=True)
        from ctrg_desktop.imaging.coverage import study_patch_fractions
        from ctrg_desktop.io.readers import read_study

        enc = self.model_config.encoder
        study = read_study(record.volume_path)
        prepared = prepare_volume(study, enc.spacing, enc.input_shape, enc.hu_window)
        legend = self.legend
        if legend is None:
            from ctrg_desktop.data.phantoms.labelmap import STRUCTURE_OF_LABEL as legend
        fractions = study_patch_fractions(read_study(path), prepared, enc.grid, legend, self.structures.names)
        fractions = fractions.astype(np.float16)
        if cached is not None:
            _save_npy_atomic(cached, fractions)
        return fractions.astype(np.float32)

    def texts(self, record) -> tuple[list[str], str]:
        """(N per-structure texts with defaults, the report the decoder learns)."""
        parsed = parse_report(record.findings, self.structures)
        texts = parsed.texts_by_structure(with_defaults=True)
        if self.report_text == "structures":
            report = join_structure_texts(parsed.texts_by_structure(with_defaults=False))
        else:
            report = record.findings.strip()
        return texts, report

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        texts, report = self.texts(record)
        labels = torch.tensor([int(record.labels.get(k, -1)) for k in CT_RATE_LABELS], dtype=torch.long)
        volume = torch.from_numpy(self.volume_array(record)).unsqueeze(0)
        sample = {"volume": volume, "structure_texts": texts, "report": report, "labels": labels,
                  "name": record.volume_name}
        if self.references is not None:
            sample["reference_report"] = self.references.get(record.volume_name, "")
        if self.with_coverage:
            fractions = self.coverage(record)
            shape = (self.model_config.encoder.grid.num_patches, len(self.structures))
            sample["has_mask"] = fractions is not None
            sample["coverage"] = torch.from_numpy(fractions if fractions is not None
                                                  else np.zeros(shape, dtype=np.float32))
        return sample


def collate(samples: list[dict]) -> dict:
    """List of samples -> batch: volume (B, 1, D, H, W), structure_texts (B x N), reports (B),
    labels (B, 18) (-1 = unknown), names (B); coverage (B, P, N) + has_mask (B,) and
    reference_reports (B) when present."""
    batch = {"volume": torch.stack([s["volume"] for s in samples]),
             "structure_texts": [list(s["structure_texts"]) for s in samples],
             "reports": [s["report"] for s in samples],
             "labels": torch.stack([s["labels"] for s in samples]),
             "names": [s["name"] for s in samples]}
    if "reference_report" in samples[0]:
        batch["reference_reports"] = [s["reference_report"] for s in samples]
    if "coverage" in samples[0]:
        batch["coverage"] = torch.stack([s["coverage"] for s in samples])
        batch["has_mask"] = torch.tensor([bool(s["has_mask"]) for s in samples])
    return batch


def read_reference_reports(path, data_dir) -> dict[str, str]:
    """Study name -> the findings of its first reference, from a JSON file {"study name":
    ["reference name", ...]} (``ctrg retrieval neighbours``) and the reports of ``data_dir``
    (every split). An empty list means no reference. ``ValueError`` naming the problem: an
    unreadable file, a study or reference not in ``data_dir``, a study that is its own reference."""
    from ctrg_desktop.data.ctrate import CTRateDataset

    path = Path(path)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read references file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(table, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in table.values()):
        raise ValueError(f"references file {path} must map study names to lists of reference names")
    findings = {r.volume_name: r.findings for r in CTRateDataset(data_dir, split=None, missing="skip")}
    unknown = sorted({n for study, refs in table.items() for n in [study, *refs[:1]] if n not in findings})
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(f"references file {path} names {len(unknown)} stud(ies) not in {data_dir}: {shown}")
    itself = sorted(study for study, refs in table.items() if refs[:1] == [study])
    if itself:
        raise ValueError(f"references file {path}: {itself[0]} is its own reference (leaks its report)")
    return {study: findings[refs[0]].strip() for study, refs in table.items() if refs}


class ShardedBatchSampler(Sampler[list[int]]):
    """Batches of one process's share of an epoch, resumable mid-epoch.

    The order of epoch ``e`` is :class:`torch.utils.data.DistributedSampler`'s with
    ``seed`` and ``set_epoch(e)`` (shuffled; padded so all ``world_size`` ranks get as many);
    it is cut into full batches (the incomplete last one is dropped, so every rank does the same
    number of steps). ``set_epoch(e, start_batch=k)`` skips the first ``k`` batches (resume).
    ``weights`` (length,) set: each epoch draws as many studies with replacement, in proportion to
    the weights, from a generator seeded by (seed, epoch) (class-balanced resampling), then shards.
    """

    def __init__(self, length: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 shuffle: bool = True):
        if length < 1:
            raise ValueError("no training studies")
        self.length, self.batch_size, self.shuffle = length, batch_size, shuffle
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.weights: torch.Tensor | None = None
        self.sampler = DistributedSampler(range(length), num_replicas=world_size, rank=rank, shuffle=shuffle,
                                          seed=seed, drop_last=False)
        if len(self) == 0:
            raise ValueError(f"{length} studies are too few for batches of {batch_size} on "
                             f"{world_size} process(es): lower batch_size")
        self.epoch, self.start_batch = 0, 0

    def __len__(self) -> int:
        """Batches per epoch (per process)."""
        return len(self.sampler) // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch
        self.sampler.set_epoch(epoch)

    def _epoch_indices(self) -> list[int]:
        if self.weights is None:
            return list(self.sampler)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        drawn = torch.multinomial(self.weights, len(self.sampler) * self.world_size, replacement=True,
                                  generator=generator).tolist()
        return drawn[self.rank::self.world_size]

    def __iter__(self):
        indices = self._epoch_indices()
        for b in range(self.start_batch, len(self)):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]
