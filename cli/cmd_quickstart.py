"""`twostream quickstart`: the built-in default — every stage on a small cartoon dataset, no download needed.

It runs the same commands a user types, in order, so that what it proves is what users get:
synth → extract → train RGB → train pose → fuse → evaluate → live (headless, on a test video).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.markup import escape

from twostream.cli.console import console
from twostream.cli.pose_args import add_pose_arguments
from twostream.errors import TwostreamError
from twostream.paths import check_output_file

DEFAULT_KEYPOINT_MODEL = "pose_stgcnpp"
"""The keypoint architecture the quickstart trains and ``bench/skeletons.py`` holds to the tree baseline: the
strongest on CMU mocap cross-subject and on the cartoon quickstart (README, Benchmarks)."""
LIVE_PLAYS = 3
"""The live step plays its test clip this many times (``--loop``), so that labels show for most of ``live.mp4``."""

HELP = "run every stage on a small generated cartoon dataset (synth → extract → train → fuse → evaluate → live)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("twostream-quickstart"),
                        help="folder for the dataset, runs and the annotated video")
    parser.add_argument("--classes", default=None, metavar="a,b,...", help="comma-separated actions (default: all)")
    parser.add_argument("--videos-per-class", type=int, default=20, help="cartoon clips per class")
    parser.add_argument("--frames", type=int, default=32, help="frames per cartoon clip (25 fps)")
    parser.add_argument("--clips-per-group", type=int, default=1,
                        help="clips per cartoon actor and class (1: every clip a new actor, which the RGB stream "
                             "needs to learn motion rather than looks)")
    parser.add_argument("--rgb-model", default="cnn_lstm", help="RGB architecture to train")
    parser.add_argument("--pose-model", default=DEFAULT_KEYPOINT_MODEL, help="keypoint architecture to train")
    add_pose_arguments(parser, model_flag="--landmarker")  # --pose-model names the keypoint architecture here
    parser.add_argument("--epochs", type=int, default=20, help="epochs for the pose stream")
    parser.add_argument("--rgb-epochs", type=int, default=None,
                        help="epochs for the RGB stream (default: twice --epochs; trained from scratch under colour "
                             "jitter, it needs the longer schedule)")
    parser.add_argument("--clip-len", type=int, default=8, help="frames each stream sees per clip")
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)


def _steps(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    out = args.out
    data, runs = out / "data", out / "runs"
    workers = [] if args.workers is None else ["--workers", str(args.workers)]
    seed = ["--seed", str(args.seed)]
    classes = [] if args.classes is None else ["--classes", args.classes]
    # --no-flip: the cartoon classes include wave_left / wave_right, which a mirrored sample would swap
    # --val-fraction 0.2: three validation actors per class, so the fusion weights are fitted on more than one
    train = ["--clip-len", str(args.clip_len), "--lr", "0.003", "--no-flip", "--val-fraction", "0.2", *seed]
    rgb_epochs = args.rgb_epochs if args.rgb_epochs is not None else 2 * args.epochs
    return [
        ("render the cartoon dataset", ["synth", str(data), "--videos-per-class", str(args.videos_per_class),
                                        "--frames", str(args.frames), "--clips-per-group",
                                        str(args.clips_per_group), *classes, *seed]),
        ("extract keypoints", ["extract", str(data), "--pose-model", args.landmarker, "--persons",
                                str(args.persons), *workers]),
        ("train the RGB stream", ["train", str(data), "--model", args.rgb_model, "--out", str(runs / "rgb"),
                                  "--no-pretrained", "--epochs", str(rgb_epochs), *train]),
        ("train the pose stream", ["train", str(data), "--model", args.pose_model, "--out", str(runs / "pose"),
                                   "--epochs", str(args.epochs), *train]),
        ("fuse the streams", ["fuse", str(runs / "rgb"), str(runs / "pose"), "--out", str(runs / "fused")]),
        ("evaluate side by side", ["evaluate", str(runs / "fused")]),
        # three times over: a clip as long as the training videos fills the windows only at its last frame
        ("live demo, headless", ["live", str(runs / "fused"), "--source", "{test_video}", "--no-window", "--fast",
                                 "--loop", "--max-frames", str(LIVE_PLAYS * args.frames),
                                 "--output", str(out / "live.mp4"), "--log", str(out / "live.jsonl")]),
    ]


def _first_test_video(data: Path) -> Path:
    listing = data / "testlist01.txt"
    first = next((line.split()[0] for line in listing.read_text().splitlines() if line.strip()), None)
    if first is None:
        raise TwostreamError(f"{listing} lists no test video")
    return data / first


def _validate(args: argparse.Namespace) -> None:
    """Every flag checked before the first step, not after minutes of synthesis and training."""
    from twostream.datasets.actions import get_action
    from twostream.paths import check_new_dataset, prepare_run_dir
    from twostream.streams import registry

    for flag, value, low in (("--videos-per-class", args.videos_per_class, 2), ("--frames", args.frames, 2),
                             ("--clips-per-group", args.clips_per_group, 1), ("--epochs", args.epochs, 1),
                             ("--rgb-epochs", args.rgb_epochs, 1), ("--clip-len", args.clip_len, 1),
                             ("--workers", args.workers, 1)):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    for name in (args.classes or "").split(","):
        if name.strip():
            get_action(name.strip())
    for flag, model, key in (("--rgb-model", args.rgb_model, "video"), ("--pose-model", args.pose_model,
                                                                         "keypoints")):
        if registry.build(model, num_classes=2).input_spec.key != key:
            raise ValueError(f"{flag} {model} does not read {key}; pick a model that does")
    check_new_dataset(args.out / "data", flag="--out")
    for role in ("rgb", "pose", "fused"):
        prepare_run_dir(args.out / "runs" / role, flag="--out")
    for name in ("live.mp4", "live.jsonl"):
        check_output_file(args.out / name, overwrite=False, flag="--out")


def run(args: argparse.Namespace) -> int:
    from twostream.cli.main import main

    _validate(args)
    steps = _steps(args)
    started = time.perf_counter()
    for number, (title, argv) in enumerate(steps, 1):
        if "{test_video}" in argv:
            argv = [str(_first_test_video(args.out / "data")) if a == "{test_video}" else a for a in argv]
        console.rule(f"[bold]{number}/{len(steps)} {title}[/]: twostream {escape(' '.join(argv))}")
        code = main(argv)
        if code != 0:
            console.print(f"[red]quickstart stopped: step {number} ({title}) exited with {code}[/]")
            return code
    minutes = (time.perf_counter() - started) / 60
    console.rule("[bold green]quickstart done")
    console.print(f"finished in {minutes:.1f} min. Dataset, runs and metrics: [bold]{escape(str(args.out))}[/]; "
                  f"annotated live video: [bold]{escape(str(args.out / 'live.mp4'))}[/]", highlight=False)
    return 0
