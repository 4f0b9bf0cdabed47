"""Two CPU processes under torchrun (gloo): the queue sees both ranks' texts, weights stay equal."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_run(tiny_data, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(WORKER), str(tiny_data), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    world, batch, steps = 2, 2, 3
    for info in ranks:
        assert info["world_size"] == world and info["steps"] == steps
        assert info["queue_count"] == [world * batch * steps] * 10  # 12 < queue size 16: all kept
    assert ranks[0]["sums"] == ranks[1]["sums"]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    log = (tmp_path / "train_log.jsonl").read_text().splitlines()
    assert len(log) == steps  # written by rank 0 only
