import numpy as np
import torch

from ctrg_desktop.data.ctrate import CTRateDataset
from ctrg_desktop.model import ModelConfig
from ctrg_desktop.reports import split_sentences
from ctrg_desktop.training.dataset import (
    ShardedBatchSampler,
    StudyDataset,
    collate,
    preprocessing_key,
)


def test_sample_batch_and_cache(tiny_data, tmp_path):
    config = ModelConfig.tiny()
    records = CTRateDataset(tiny_data, "train")
    ds = StudyDataset(records, config, cache_dir=tmp_path)
    sample = ds[0]
    assert sample["volume"].shape == (1, 16, 32, 32) and sample["volume"].dtype == torch.float32
    assert len(sample["structure_texts"]) == 10 and sample["report"] == records[0].findings.strip()
    assert sample["labels"].shape == (18,) and sample["name"] == records[0].volume_name
    cached = list((tmp_path / preprocessing_key(config)).glob("*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.full((16, 32, 32), 7, np.float32))  # proves the second read uses the cache
    assert float(ds[0]["volume"].mean()) == 7.0
    batch = collate([ds[1], ds[2]])
    assert batch["volume"].shape == (2, 1, 16, 32, 32) and len(batch["reports"]) == 2
    assert len(batch["structure_texts"]) == 2 and batch["labels"].shape == (2, 18)

    other = ModelConfig.tiny()
    other.encoder.window = "ctclip"
    assert preprocessing_key(other) != preprocessing_key(config)
    joined = StudyDataset(records, config, report_text="structures")[0]["report"]
    assert set(split_sentences(joined)) == set(split_sentences(records[0].findings))


def test_sharded_batches_cover_epoch_and_resume():
    ranks = [ShardedBatchSampler(10, 2, rank=r, world_size=2, seed=4) for r in (0, 1)]
    for s in ranks:
        s.set_epoch(3)
    batches = [list(s) for s in ranks]
    assert all(len(b) == 2 for b in batches)  # 5 per rank -> 2 full batches
    seen = [i for b in batches for batch in b for i in batch]
    assert len(set(seen)) == 8
    ranks[0].set_epoch(3, start_batch=1)
    assert list(ranks[0]) == batches[0][1:]
    ranks[0].set_epoch(4)
    assert list(ranks[0]) != batches[0]
