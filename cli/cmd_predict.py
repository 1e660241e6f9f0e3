"""`twostream predict`: the top classes of one video under a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Predict the action in one video with a trained run (uniform frames over the whole video)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `twostream train`")
    parser.add_argument("video", type=Path, help="video file")
    parser.add_argument("--top", type=int, default=5, help="how many classes to list")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.table import Table

    from twostream.cli.console import console
    from twostream.streams.inference import open_run, predict_video

    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    if not args.video.is_file():
        raise FileNotFoundError(f"video {args.video} does not exist")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    trained = open_run(args.run_dir, device=device)
    table = Table(title=f"{args.video.name} — {trained.arch}")
    table.add_column("rank", justify="right")
    table.add_column("class")
    table.add_column("confidence", justify="right")
    for rank, (name, p) in enumerate(predict_video(trained, args.video, top=args.top), start=1):
        table.add_row(str(rank), name, f"{p:.3f}")
    console.print(table)
    return 0
