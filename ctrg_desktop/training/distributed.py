"""Data-parallel helpers: start from torchrun's environment, gather tensors, log on rank 0.

``torchrun --nproc_per_node 2 -m ctrg_desktop train structure ...`` sets RANK, WORLD_SIZE,
LOCAL_RANK (and MASTER_ADDR/PORT); without them everything runs as a single process.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from exc


def init_distributed(device: str = "cpu") -> DistInfo:
    """Initialise the default process group from RANK/WORLD_SIZE/LOCAL_RANK if WORLD_SIZE > 1.

    Backend: nccl when ``device`` is CUDA (and selects GPU ``LOCAL_RANK``), gloo otherwise.
    Returns the :class:`DistInfo`; a no-op for one process or when already initialised.
    """
    info = DistInfo(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))
    if not info.enabled:
        return info
    if str(device).startswith("cuda"):
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (M, ...) of every rank along dim 0, in rank order: (world*M, ...).

    No gradient flows (meant for the diversity queue's ``gather_fn``); all ranks must pass the
    same shape. Identity when not distributed.
    """
    if not is_distributed():
        return tensor
    tensor = tensor.detach().contiguous()
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor)
    return torch.cat(parts, dim=0)


def all_reduce_mean(value: float, device="cpu") -> float:
    """Mean of a Python float over ranks (for logging); the value itself when not distributed."""
    if not is_distributed():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def log_main(message: str, info: DistInfo | None = None, file=None) -> None:
    """Print ``message`` to stderr on rank 0 only."""
    rank = info.rank if info is not None else (dist.get_rank() if is_distributed() else 0)
    if rank == 0:
        print(message, file=file or sys.stderr, flush=True)


def cleanup() -> None:
    """Destroy the process group if this process created one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
