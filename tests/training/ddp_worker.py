"""Run by ``python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py DATA OUT`` (see test_ddp.py).

Each rank trains the tiny model for 3 steps of stage 1 (gloo on CPU) and writes ``OUT/rank{R}.json``:
world size, the queue's fill count per structure and a checksum of every weight.
"""

import io
import json
import sys
from pathlib import Path

import torch


def main(data: str, out: str) -> None:
    torch.set_num_threads(1)
    from ctrg_desktop.training import distributed
    from ctrg_desktop.training.config import TrainConfig
    from ctrg_desktop.training.loop import train

    cfg = TrainConfig(stage="structure", model="tiny", steps=3, batch_size=2, lr=1e-3, log_every=1,
                      checkpoint_every=0, seed=0, device="cpu", cache_dir=None)
    result = train(cfg, data, out, stream=io.StringIO())
    rank = torch.distributed.get_rank()
    state = result.model.state_dict()
    Path(out, f"rank{rank}.json").write_text(json.dumps({
        "world_size": result.world_size, "steps": result.step,
        "queue_count": result.model.queue.count.tolist(),
        "sums": {k: float(v.double().sum()) for k, v in state.items()}}))
    distributed.cleanup()


if __name__ == "__main__":
    main(*sys.argv[1:3])
