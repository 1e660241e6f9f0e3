"""`twostream trim`: cut untrimmed videos into labelled clips from ActivityNet-style temporal annotations."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from twostream.cli.console import console, warn
from twostream.datasets.activitynet import REPORT_NAME, trim_dataset
from twostream.paths import check_output_dir

HELP = "Cut untrimmed videos into OUT_ROOT/<label>/<id>_<k>.mp4 clips from an ActivityNet-style annotation JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("annotations", metavar="ANNOTATIONS.json",
                        help='{"database": {"<id>": {"annotations": [{"segment": [s, e], "label": "..."}]}}}')
    parser.add_argument("video_dir", metavar="VIDEO_DIR", help="folder holding <id>.* or v_<id>.* videos")
    parser.add_argument("out_root", metavar="OUT_ROOT", help="output dataset root (class folders)")
    parser.add_argument("--format", dest="ext", choices=("mp4", "avi"), default="mp4",
                        help="clip container: mp4 (mp4v) or avi (MJPG)")
    parser.add_argument("--overwrite", action="store_true", help="re-cut clips that already exist")
    parser.add_argument("--subset", default=None, metavar="a,b",
                        help='only videos whose "subset" is one of these, e.g. training,validation')
    parser.add_argument("--background", default=None, metavar="LABEL",
                        help="also cut the stretches between segments (>= 1 s) as clips of class LABEL, e.g. "
                             "background (timeline treats a class of that name as no action)")
    parser.add_argument("--background-per-video", type=int, default=None, metavar="N",
                        help="with --background: only the N longest stretches of each video (default: all), so "
                             "that background clips do not outnumber an action class many times over")


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out_root, inputs=[args.annotations, args.video_dir], flag="OUT_ROOT")
    columns = (TextColumn("trimming"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[video]}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("trim", total=None, video="")
        report = trim_dataset(
            args.annotations, args.video_dir, args.out_root, ext=args.ext, overwrite=args.overwrite,
            subsets=None if args.subset is None else [s.strip() for s in args.subset.split(",") if s.strip()],
            background=args.background, background_per_video=args.background_per_video,
            progress=lambda done, total, video: progress.update(task, completed=done, total=total, video=video),
        )
    console.print(f"wrote {len(report.written)} clips, kept {len(report.skipped)} existing, "
                  f"{len(report.failures)} problems; report: {args.out_root}/{REPORT_NAME}", highlight=False,
                  markup=False)
    if report.failures:
        table = Table("video", "segment", "problem", title="not trimmed")
        for failure in report.failures:
            segment = "all" if failure.segment is None else escape(str(failure.segment))
            table.add_row(escape(failure.video_id), segment, escape(failure.reason))
        console.print(table)
        warn(f"{len(report.failures)} videos or segments were not trimmed (listed above)")
        return 1
    return 0
