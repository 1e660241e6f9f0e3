"""`twostream pose-show`: draw a video's keypoints on it (from its cache, or extracted now) and save or show it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from twostream.cli.pose_args import add_pose_arguments, pose_config
from twostream.cli.console import console
from twostream.paths import check_output_file
from twostream.pose.cache import cache_path_for
from twostream.pose.draw import iter_annotated, write_annotated
from twostream.pose.extract import cached_or_extracted

HELP = "draw the MediaPipe skeleton on a video (cached or extracted now) and write <stem>.pose.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="video file")
    parser.add_argument("--output", "-o", default=None,
                        help="annotated video to write; without it a window opens when a display exists, "
                             "else <stem>.pose.mp4 is written beside VIDEO")
    parser.add_argument("--overwrite", action="store_true", help="replace the annotated video if it exists")
    parser.add_argument("--threshold", type=float, default=0.5, help="hide joints below this visibility")
    add_pose_arguments(parser)  # used when no up-to-date cache was made with these settings


def _has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _show(video: Path, cache, threshold: float) -> None:
    import cv2

    delay = max(1, round(1000 / cache.fps)) if cache.fps > 0 else 40
    title = f"twostream pose-show — {video.name} (q to quit)"
    try:
        for frame in iter_annotated(video, cache, threshold=threshold):
            cv2.imshow(title, frame)
            if cv2.waitKey(delay) & 0xFF in (ord("q"), 27):
                break
    finally:
        cv2.destroyAllWindows()


def run(args: argparse.Namespace) -> int:
    video = Path(args.video)
    if video.is_dir():
        raise IsADirectoryError(f"{video} is a folder; pose-show takes one video file (extract takes folders)")
    if not video.is_file():
        raise FileNotFoundError(f"no video at {video}")
    output = Path(args.output) if args.output else video.with_name(video.stem + ".pose.mp4")
    if args.output is not None or not _has_display():
        check_output_file(output, inputs=[video, cache_path_for(video)], overwrite=args.overwrite, flag="--output")
    pose = pose_config(args)
    with console.status(f"keypoints of {video.name} (cached, or extracted now) …"):
        cache = cached_or_extracted(video, pose)
    counts, n = cache.person_counts, len(cache.frame_indices)  # (N,)
    tracks = len(set(cache.track_ids[cache.track_ids >= 0].tolist()))
    console.print(f"person found in {(counts >= 1).sum()}/{n} frames ({cache.detected_fraction:.0%}), "
                  f"two or more in {(counts >= 2).sum()}/{n}; {tracks} tracks in {cache.persons} slots",
                  highlight=False)
    if args.output is None and _has_display():
        _show(video, cache, args.threshold)
        return 0
    with console.status(f"writing {output} …"):
        write_annotated(video, cache, output, threshold=args.threshold)
    console.print(f"wrote {output}", highlight=False, markup=False)
    return 0
