"""`twostream evaluate`: test a run's best model; writes metrics.json, confusion.csv and confusion.png."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Evaluate a training run on its test (or validation) split; writes metrics.json and the confusion matrix."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `twostream train`")
    parser.add_argument("root", type=Path, nargs="?", default=None,
                        help="dataset (default: the one recorded in RUN_DIR/config.json)")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--clips-per-video", type=int, default=1, help="clips averaged per video")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the run's")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the run's)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from twostream.cli.console import console, warn
    from twostream.streams.inference import evaluate_run, write_evaluation

    ev = evaluate_run(args.run_dir, args.root, split=args.split, clips_per_video=args.clips_per_video,
                      device=args.device, batch_size=args.batch_size, num_workers=args.workers)
    if ev.metrics["dropped"]:
        warn(f"{len(ev.metrics['dropped'])} unreadable video(s) left out: {', '.join(ev.metrics['dropped'][:10])}")
    paths = write_evaluation(args.run_dir, ev)
    m = ev.metrics
    table = Table(title=f"{m['arch']} on the {m['split']} split ({m['num_videos']} videos, {m['num_clips']} clips)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in [("clip accuracy", "accuracy"), ("video accuracy", "video_accuracy"), ("top-5 (clip)", "top5"),
                       ("macro F1 (clip)", "macro_f1"), ("mean class accuracy (clip)", "mean_class_accuracy")]:
        table.add_row(label, f"{m[key]:.4f}")
    console.print(table)
    console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)
    return 0
