"""Data-parallel training under ``torchrun``: process group, sampler, DDP wrapper; rank 0 alone writes and prints.

Without torchrun's ``WORLD_SIZE``/``RANK`` environment everything degrades to one process (world size 1).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler


class DistEnv(NamedTuple):
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(*, cuda: bool) -> DistEnv:
    """Join the process group when launched by torchrun (nccl on GPUs, gloo on CPU); else a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv(0, 1, 0)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return DistEnv(rank, world, local)


def cleanup(env: DistEnv) -> None:
    if env.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def device_for(env: DistEnv, requested: str | None) -> torch.device:
    """``requested`` (cpu|cuda) or CUDA when present; under torchrun each process takes GPU ``LOCAL_RANK``."""
    if requested not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is visible; pass --device cpu")
    use_cuda = requested == "cuda" or (requested is None and torch.cuda.is_available())
    if not use_cuda:
        return torch.device("cpu")
    torch.cuda.set_device(env.local_rank)
    return torch.device("cuda", env.local_rank)


def single_device(requested: str | None) -> torch.device:
    """The device of a one-process command (evaluate, predict, fuse, live), checked like ``device_for``: a name
    other than cpu / cuda, or cuda without a visible GPU, is a ``ValueError`` naming ``--device cpu``."""
    return device_for(DistEnv(0, 1, 0), requested)


def sampler(dataset: Dataset, env: DistEnv, *, shuffle: bool, seed: int) -> DistributedSampler:
    """This rank's share of ``dataset``; with one process it is a seeded permutation of the whole set.

    The same sampler serves both cases so that 1 process with batch 2B and 2 processes with batch B see the
    same global batches (``set_epoch`` reseeds with ``seed + epoch``).
    """
    return DistributedSampler(dataset, num_replicas=env.world_size, rank=env.rank, shuffle=shuffle, seed=seed,
                              drop_last=False)


def wrap(model: nn.Module, env: DistEnv, device: torch.device) -> nn.Module:
    if env.world_size <= 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_sum(values: list[float], device: torch.device, env: DistEnv) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (identity with one process)."""
    if env.world_size <= 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(env: DistEnv) -> None:
    if env.world_size > 1:
        dist.barrier()
