"""`twostream predict`: the top classes of one video under a trained or fused run."""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.cli.pose_args import add_pose_arguments, pose_config
from twostream.cli.precision_args import add_precision_argument

HELP = "Predict the action in one video with a trained or fused run (uniform frames over the whole video)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `twostream train` or `twostream fuse`")
    parser.add_argument("video", type=Path, help="video file (keypoints: its .pose.npz cache, else MediaPipe now)")
    parser.add_argument("--top", type=int, default=5, help="how many classes to list")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    add_precision_argument(parser, default="fp32")  # one video: the scores evaluation gives
    parser.add_argument("--output", "-o", type=Path, default=None, metavar="VIDEO",
                        help="also write the video with every tracked person's skeleton, id and label (their own "
                             "keypoint answer fused with the scene's) in the person's colour")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    add_pose_arguments(parser)  # when the video has no fresh keypoint cache


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from twostream.cli.console import console
    from twostream.fusion.run import load_run, top_classes
    from twostream.streams.distributed import single_device

    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    if args.video.is_dir():
        raise IsADirectoryError(f"{args.video} is a folder; predict takes one video file")
    if not args.video.is_file():
        raise FileNotFoundError(f"video {args.video} does not exist")
    if args.output is not None:
        from twostream.paths import check_output_file
        from twostream.pose.cache import cache_path_for

        check_output_file(args.output, inputs=[args.video, cache_path_for(args.video)], overwrite=args.overwrite,
                          flag="--output")
    device = single_device(args.device)
    predictor = load_run(args.run_dir, device=device, precision=args.precision)
    cache = None
    if args.output is not None:  # first: the whole video's cache then also serves predict_video's frames
        from twostream.pose.extract import cached_or_extracted

        with console.status(f"keypoints of {args.video.name} (cached, or extracted now) …"):
            cache = cached_or_extracted(args.video, pose_config(args))
    prediction = predictor.predict_video(args.video, pose=pose_config(args))
    kind = f"fused: {predictor.fusion.name}" if predictor.fusion else next(iter(prediction.per_stream))
    table = Table(title=escape(f"{args.video.name} — {args.run_dir.name} ({kind})"))
    table.add_column("rank", justify="right")
    table.add_column("class")
    table.add_column("confidence", justify="right")
    for rank, (name, p) in enumerate(top_classes(prediction.fused, predictor.classes, args.top), start=1):
        table.add_row(str(rank), name, f"{p:.3f}")
    console.print(table)
    if len(prediction.per_stream) > 1:
        for role, probs in prediction.per_stream.items():
            (name, p), = top_classes(probs, predictor.classes, 1)
            console.print(f"{role} stream top-1: {name} ({p:.3f})", highlight=False, markup=False)
    if prediction.pose_detected_fraction is not None:
        console.print(f"person found in {prediction.pose_detected_fraction:.0%} of the pose frames", highlight=False)
    if cache is not None:
        _write_persons(predictor, args, cache, console)
    return 0


def _write_persons(predictor, args: argparse.Namespace, cache, console) -> None:
    """Per-person answers on the whole video's tracked keypoints (``cache``), printed and drawn into ``--output``."""
    from twostream.fusion.run import top_classes
    from twostream.pose.draw import write_annotated

    tracked = (cache.track_ids >= 0).any(axis=0)  # (M,): slots someone held
    labels = {}
    for slot, person in enumerate(predictor.predict_video_persons(args.video, cache)):
        if tracked[slot]:
            (name, p), = top_classes(person.fused, predictor.classes, 1)
            labels[slot] = f"{name} {p:.2f}"
            console.print(f"person P{slot}: {name} ({p:.3f})", highlight=False, markup=False)
    with console.status(f"writing {args.output} …"):
        write_annotated(args.video, cache, args.output, labels=labels)
    console.print(f"wrote {args.output}", highlight=False, markup=False)
