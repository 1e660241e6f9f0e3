"""`twostream evaluate`: test a run's best model; writes metrics.json, confusion.csv and confusion.png.

A fused run (a directory with ``fusion.json``) is tested RGB-only, pose-only and under every fusion mode on the
same videos; its ``metrics.json`` holds the chosen mode's metrics at the top level and all of them side by side,
and ``per-class.csv`` / ``per-class.png`` show each class's recall per stream and fused. Every run's most
confused class pairs are printed (and kept in ``metrics.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.pose.cache_check import ON_BAD_CACHE

HELP = "Evaluate a training or fused run on its test (or validation) split; writes metrics.json and the confusion matrix."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `twostream train` or `twostream fuse`")
    parser.add_argument("root", type=Path, nargs="?", default=None,
                        help="dataset (default: the one recorded in the run)")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--clips-per-video", type=int, default=1,
                        help="clips averaged per video (training runs; a fused run scores one clip per video)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the run's (fused runs: 4)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the run's; fused: 0)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--on-bad-cache", choices=ON_BAD_CACHE, default="fail",
                        help="keypoint runs: a missing, corrupt or stale cache stops before any work (fail), is left "
                             "out and reported (skip), or is extracted now (extract)")


def run(args: argparse.Namespace) -> int:
    from twostream.cli.console import console, warn
    from twostream.paths import check_output_dir
    from twostream.resources import capped_workers
    from twostream.streams.distributed import single_device
    from twostream.streams.inference import write_evaluation

    check_output_dir(args.run_dir, inputs=[args.root], flag="RUN_DIR")  # metrics.json & co. are written there
    args.device = str(single_device(args.device)) if args.device else None
    if args.workers is not None:
        args.workers = capped_workers(args.workers, "--workers", note=warn)
    if (args.run_dir / "fusion.json").is_file():
        ev, shown, paths = _fused(args)
    else:
        (ev, shown), paths = _single(args), []
    for renderable in [*shown, _confused_table(ev.metrics["confused_pairs"])]:
        console.print(renderable)
    dropped = ev.metrics.get("dropped") or []
    if dropped:
        warn(f"{len(dropped)} video(s) left out (unreadable, or a bad keypoint cache with --on-bad-cache skip): "
             f"{', '.join(dropped[:10])}" + (" …" if len(dropped) > 10 else ""))
    unlisted = ev.metrics.get("unlisted") or []
    if unlisted:
        warn(f"{len(unlisted)} video(s) under the dataset are in none of the run's frozen lists (added after "
             f"training?) and were left out: {', '.join(unlisted[:5])}" + (" …" if len(unlisted) > 5 else ""))
    paths = write_evaluation(args.run_dir, ev) + paths
    console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False, markup=False)
    return 0


def _confused_table(pairs: list[dict]):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="most confused class pairs" if pairs else "no class confused with another")
    for name in ("true class", "predicted as", "clips", "share of the class"):
        table.add_column(name, justify="right" if name in ("clips", "share of the class") else "left")
    for p in pairs:
        table.add_row(escape(p["true"]), escape(p["predicted"]), str(p["count"]), f"{p['share']:.0%}")
    return table


def _disagreement_table(rows):
    """The classes where the two streams' recalls differ most, and what fusion made of them."""
    from rich.markup import escape
    from rich.table import Table

    from twostream.fusion.diagnostics import most_disagreeing

    table = Table(title="classes where the streams disagree most (recall)")
    for name in ("class", "videos", "RGB", "keypoints", "fused", "fused − better"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for r in most_disagreeing(rows):
        table.add_row(escape(r.name), str(r.support), *(f"{v:.2f}" for v in (r.rgb, r.pose, r.fused)),
                      f"{r.gain:+.2f}")
    return table


def _fused(args: argparse.Namespace):
    import torch
    from rich.progress import Progress

    from twostream.cli.console import console
    from twostream.fusion.diagnostics import per_class_recall, write_per_class
    from twostream.fusion.evaluation import evaluate_fused, format_side_by_side, fused_evaluation

    if args.clips_per_video != 1:
        raise ValueError(f"--clips-per-video {args.clips_per_video}: a fused run is scored on one clip per video; "
                         "drop the flag")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"scoring {args.split} videos", total=None)
        result = evaluate_fused(args.run_dir, args.root, args.split, device=device, batch_size=args.batch_size or 4,
                                num_workers=args.workers or 0, on_bad_cache=args.on_bad_cache,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    rows = per_class_recall(result)
    paths = write_per_class(rows, args.run_dir, title=f"{result['model']}: recall per class on the {args.split} split, "
                                                      "largest gain of fusion first")
    return fused_evaluation(result), [format_side_by_side(result), _disagreement_table(rows)], paths


def _single(args: argparse.Namespace):
    from rich.table import Table

    from twostream.streams.inference import evaluate_run

    ev = evaluate_run(args.run_dir, args.root, split=args.split, clips_per_video=args.clips_per_video,
                      device=args.device, batch_size=args.batch_size, num_workers=args.workers,
                      on_bad_cache=args.on_bad_cache)
    m = ev.metrics
    table = Table(title=f"{m['arch']} on the {m['split']} split ({m['num_videos']} videos, {m['num_clips']} clips)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in [("clip accuracy", "accuracy"), ("video accuracy", "video_accuracy"), ("top-5 (clip)", "top5"),
                       ("macro F1 (clip)", "macro_f1"), ("mean class accuracy (clip)", "mean_class_accuracy")]:
        table.add_row(label, f"{m[key]:.4f}")
    return ev, [table]
