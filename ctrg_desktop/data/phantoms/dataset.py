"""Write N phantom studies in parallel, in the CT-RATE folder layout (:mod:`ctrg_desktop.data.ctrate`).

```
OUT/dataset.json, splits.csv, phantom_details.jsonl
OUT/{split}/{split}_{pid}/{split}_{pid}_a/{split}_{pid}_a_1.nii.gz
OUT/segmentations/{name}_labels.nii.gz
OUT/radiology_text_reports/{train,validation,test}_reports.csv
OUT/multi_abnormality_labels/{train,valid,test}_predicted_labels.csv
```
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ctrg_desktop.data.ctrate import (SEGMENTATIONS_DIR, SPLITS, LayoutRow, segmentation_relpath, volume_relpath,
                                      write_dataset_info, write_tables)
from ctrg_desktop.data.labels import CT_RATE_LABELS
from ctrg_desktop.data.phantoms.config import PhantomConfig
from ctrg_desktop.data.phantoms.generator import (
    GENERATOR_NAME,
    GENERATOR_VERSION,
    generate_study,
)
from ctrg_desktop.data.phantoms.labelmap import label_legend
from ctrg_desktop.io.sitk_bridge import write_volume

DETAILS_FILE = "phantom_details.jsonl"  #: one JSON line a study: seed, labels, patient, drawn findings


def study_seed(seed: int, index: int) -> int:
    """Seed of study ``index`` of a dataset made with ``seed`` (independent of worker count)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def plan_splits(count: int, split=(0.8, 0.1, 0.1)) -> list[tuple[str, str]]:
    """``(volume name, split)`` for studies 0..count-1: the first ones train, then valid, then test."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-6:
        raise ValueError(f"split must be three shares (train, valid, test) summing to 1, got {split}")
    n_valid, n_test = round(count * split[1]), round(count * split[2])
    sizes = {"train": count - n_valid - n_test, "valid": n_valid, "test": n_test}
    return [(f"{s}_{pid}_a_1", s) for s in SPLITS for pid in range(1, sizes[s] + 1)]


def _make(job: tuple) -> dict:
    """Worker: generate one study, write its volume and label map, return its table rows."""
    index, seed, name, split, config, out = job
    study = generate_study(seed, PhantomConfig(**config))
    path = Path(out) / volume_relpath(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_volume(study.volume, path)
    write_volume(study.volume, Path(out) / segmentation_relpath(name), array=study.label_map)
    return {"index": index, "VolumeName": name, "split": split, "seed": seed, "labels": study.labels,
            "report": LayoutRow(name, split, study.findings, study.impressions, study.clinical_information,
                                study.technique, study.labels),
            "details": study.details, "patient": study.patient}


def generate_dataset(out_dir, count: int, seed: int, config: PhantomConfig | None = None,
                     split=(0.8, 0.1, 0.1), workers: int | None = None, progress=None) -> Path:
    """Write ``count`` studies to ``out_dir`` (CT-RATE layout); returns the folder.

    ``workers`` processes (default: CPU count; 1 = in this process); ``progress(done, total)``
    is called after each study. The result does not depend on ``workers``.
    """
    config = (config or PhantomConfig()).validate()
    out = Path(out_dir)
    (out / SEGMENTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    jobs = [(n, study_seed(seed, n), name, s, config.to_dict(), str(out)) for n, (name, s) in
            enumerate(plan_splits(count, split))]
    rows = sorted(_run(jobs, workers or os.cpu_count() or 1, progress), key=lambda r: r["index"])
    write_tables(out, [r["report"] for r in rows])
    _write_details(out, rows)
    meta = {"generator": {"name": GENERATOR_NAME, "version": GENERATOR_VERSION}, "config": config.to_dict(),
            "seed": int(seed), "count": count, "split": {s: sum(r["split"] == s for r in rows) for s in SPLITS},
            "labels": list(CT_RATE_LABELS), "label_legend": label_legend()}
    write_dataset_info(out, meta)
    return out


def _run(jobs: list, workers: int, progress) -> list[dict]:
    rows = []
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            rows.append(_make(job))
            if progress:
                progress(len(rows), len(jobs))
        return rows
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        for future in as_completed([pool.submit(_make, job) for job in jobs]):
            rows.append(future.result())
            if progress:
                progress(len(rows), len(jobs))
    return rows


def _write_details(out: Path, rows: list[dict]) -> None:
    with open(out / DETAILS_FILE, "w", encoding="utf-8") as f:
        for r in rows:
            keys = ("VolumeName", "split", "seed", "labels", "patient", "details")
            f.write(json.dumps({k: r[k] for k in keys}) + "\n")
