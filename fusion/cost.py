"""What a run costs to run: parameters, GFLOPs per clip and measured CPU milliseconds per clip.

A fused run costs its two streams together (the late fusion itself is a weighted sum: nothing). FLOPs come
from ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts 2, as in torch's counter; torchvision's
model tables count it once) on one clip of the stream's own input spec; the time is the median of ``repeats``
forward passes of one clip on the CPU after a warm-up pass, with torch's current thread count. Neither includes
decoding the video nor extracting the keypoints (MediaPipe) that a pose stream needs first.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Iterable, NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from twostream.fusion.export import example_input
from twostream.streams.base import Stream

COST_FIELDS = ("params_m", "gflops", "cpu_ms")


class Cost(NamedTuple):
    params_m: float
    """Parameters, in millions."""
    gflops: float
    """Floating-point operations of one clip's forward pass, in billions (a multiply-add counts 2)."""
    cpu_ms: float | None
    """Median CPU milliseconds of one clip's forward pass (batch 1); ``None`` when not measured."""


@torch.inference_mode()
def streams_cost(models: Iterable[Stream], *, repeats: int = 5) -> Cost:
    """The summed cost of ``models`` on one clip each; ``repeats=0`` skips the timing (``cpu_ms`` is ``None``)."""
    if repeats < 0:
        raise ValueError(f"repeats must be >= 0, got {repeats}")
    params = flops = 0
    seconds: list[float] = [0.0] * repeats
    for model in models:
        model = model.to("cpu").eval()
        x = example_input(model.input_spec, batch=1)  # (1, T, 3, S, S) or (1, T, V, 4)
        params += sum(p.numel() for p in model.parameters())
        with FlopCounterMode(display=False) as counter:
            model(x)
        flops += counter.get_total_flops()
        if repeats:
            model(x)  # warm-up: the first pass allocates and picks kernels
        for i in range(repeats):
            start = time.perf_counter()
            model(x)
            seconds[i] += time.perf_counter() - start
    cpu_ms = statistics.median(seconds) * 1000 if repeats else None
    return Cost(params / 1e6, flops / 1e9, cpu_ms)


def run_cost(run_dir: str | Path, *, repeats: int = 5) -> Cost:
    """``streams_cost`` of every stream of a training or fused run (its best checkpoints)."""
    from twostream.fusion.run import load_run

    return streams_cost(load_run(run_dir, device="cpu").models.values(), repeats=repeats)
