"""Is the input pipeline fast enough to feed R3D-18? Loader clips/s vs training-step clips/s on the same clips.

    python bench/train.py [--root DATASET] [--batch-size 4] [--workers 2] [--batches 6] [--device cpu|cuda]

Without ``--root`` a small cartoon dataset is generated in a temp folder. Prints a rich table; the last line is
``loader_over_step=R`` (target >= 3: the loader must outrun the model with room to spare).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

from twostream.streams.data import build_datasets
from twostream.streams.registry import build
from twostream.streams.training import TrainConfig, train_one_epoch


def _loader_rate(dataset, batch_size: int, workers: int, batches: int) -> tuple[float, list[dict]]:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0), persistent_workers=False)
    kept, clips, start = [], 0, None
    for i, batch in enumerate(loader):
        if i == 0:
            start = time.perf_counter()  # the first batch pays for worker start-up: not the steady state
        else:
            clips += len(batch["label"])
        kept.append(batch)
        if i == batches:
            break
    return clips / max(time.perf_counter() - start, 1e-9), kept


def _step_rate(batches: list[dict], num_classes: int, device: str) -> float:
    model = build("r3d_18", num_classes=num_classes)  # no pretrained weights: offline-safe
    cfg = TrainConfig(device=device, num_workers=0, batch_size=len(batches[0]["label"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.to(device)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=False)
    train_one_epoch(model, batches[:1], optimizer, device=torch.device(device), cfg=cfg, lr_fn=lambda s: 1e-3,
                    step0=0, scaler=scaler)  # warm-up (allocator, cuDNN autotune)
    stats = train_one_epoch(model, batches[1:], optimizer, device=torch.device(device), cfg=cfg,
                            lr_fn=lambda s: 1e-3, step0=1, scaler=scaler)
    return stats.clips / stats.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="dataset folder (default: generated cartoon)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6, help="timed batches after the first")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            from twostream.datasets.synth import generate

            root = Path(tmp) / "cartoon"
            generate(root, videos_per_class=4, seed=0, frames=48, size=(171, 128))
        spec = build("r3d_18", num_classes=2).input_spec  # 16 frames, 112 px, Kinetics normalisation
        data = build_datasets(root, spec)
        loader_cps, batches = _loader_rate(data.train, args.batch_size, args.workers, args.batches)
    step_cps = _step_rate(batches, len(data.classes), args.device)
    ratio = loader_cps / step_cps
    table = Table(title=f"R3D-18 input pipeline vs training step ({spec.clip_len}×{spec.size}², "
                        f"batch {args.batch_size}, {args.workers} workers, {args.device})")
    for col in ("stage", "clips/s"):
        table.add_column(col, justify="right" if col == "clips/s" else "left")
    table.add_row("DataLoader over ClipDataset", f"{loader_cps:.1f}")
    table.add_row("R3D-18 training step", f"{step_cps:.1f}")
    table.add_row("loader / step", f"{ratio:.2f}")
    console = Console()
    console.print(table)
    console.print(f"loader_over_step={ratio:.2f}", highlight=False)


if __name__ == "__main__":
    main()
