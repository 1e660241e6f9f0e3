"""`twostream extract`: MediaPipe keypoints for every video of a dataset, cached beside each video."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from twostream.cli.pose_args import add_pose_arguments, pose_config
from twostream.cli.console import console, warn
from twostream.datasets.folder import VIDEO_EXTENSIONS
from twostream.paths import check_output_dir
from twostream.pose.extract import (ExtractConfig, ExtractReport, VideoResult, extract_dataset, list_videos,
                                    parse_shard)
from twostream.resources import capped_workers, exclusive_lock

HELP = "extract MediaPipe body keypoints for every video under ROOT into <video>.pose.npz caches"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="ROOT", help="dataset folder (searched recursively) or one video file")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes extracting in parallel (1 = in this process)")
    parser.add_argument("--shard", type=_shard, default="1/1", metavar="I/N",
                        help="take only the I-th of N round-robin shares of the sorted videos (1-based)")
    parser.add_argument("--every", type=int, default=1, metavar="K", help="process every K-th frame")
    add_pose_arguments(parser)
    parser.add_argument("--force", action="store_true", help="redo videos whose cache is up to date")
    parser.epilog = "Exit status: 0 when every video was extracted or skipped, 1 when any failed."


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print_summary(report: ExtractReport) -> None:
    table = Table(title=f"keypoint extraction — {escape(str(report.root))}")
    for column in ("extracted", "skipped", "failed", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(report.count(s)) for s in ("extracted", "skipped", "failed")), f"{report.seconds:.1f}")
    console.print(table)
    failed = [r for r in report.results if r.status == "failed"]
    for result in failed[:20]:
        console.print(f"[red]failed[/] {escape(result.video)}: {escape(result.reason)}", highlight=False,
                      soft_wrap=True)
    if len(failed) > 20:
        console.print(f"… and {len(failed) - 20} more failures")
    if report.report_path is not None:
        console.print(f"report: {report.report_path}", highlight=False, markup=False)


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.exists():
        raise FileNotFoundError(f"no video or folder at {root}")
    check_output_dir(root if root.is_dir() else root.parent, flag="ROOT")  # caches are written beside the videos
    if root.is_dir() and not list_videos(root):
        raise ValueError(f"no videos found under {root} (looked for {', '.join(VIDEO_EXTENSIONS)} files, "
                         "recursively)")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1 (1 = in this process), got {args.workers}")
    config = ExtractConfig(workers=max(1, capped_workers(args.workers, "--workers", note=warn)), shard=args.shard,
                           every=args.every, pose=pose_config(args), force=args.force)
    if root.is_dir():
        i, n = args.shard
        with exclusive_lock(root / f".twostream-extract.{i}-of-{n}.lock", f"twostream extract on {root}"):
            return _extract(root, config)
    return _extract(root, config)


def _extract(root: Path, config: ExtractConfig) -> int:
    columns = (TextColumn("[bold]extract"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
               TextColumn("{task.fields[fps]:.1f} frames/s"), TimeRemainingColumn())
    frames = 0
    start = time.perf_counter()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("extract", total=None, fps=0.0)

        def on_start(n_videos: int) -> None:
            progress.update(task, total=n_videos)

        def on_result(result: VideoResult) -> None:
            nonlocal frames
            frames += result.frames if result.status == "extracted" else 0
            progress.update(task, advance=1, fps=frames / max(time.perf_counter() - start, 1e-9))

        report = extract_dataset(root, config, on_start=on_start, on_result=on_result)
    _print_summary(report)
    return 0 if report.ok else 1
