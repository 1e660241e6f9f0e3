"""The pose flags every command that runs pose shares: ``--pose-model`` and ``--persons``."""

from __future__ import annotations

import argparse

from twostream.pose.backends import DEFAULT_PERSONS, PoseConfig


def add_pose_arguments(parser: argparse.ArgumentParser, *, model_flag: str = "--pose-model") -> None:
    parser.add_argument(model_flag, dest="landmarker", default="full", metavar="full|lite|heavy|PATH.task",
                        help="MediaPipe pose landmarker: full (built offline from the installed wheel), lite / "
                             "heavy (Google's published bundles, from the cache folder) or a .task file")
    parser.add_argument("--persons", type=int, default=DEFAULT_PERSONS, metavar="M",
                        help="track up to M people per frame (slot 0 = the main actor)")


def pose_config(args: argparse.Namespace) -> PoseConfig:
    return PoseConfig(model=args.landmarker, persons=args.persons)
