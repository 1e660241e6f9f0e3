"""`twostream synth OUT`: render the cartoon-actor dataset (UCF101 layout, split files, ground-truth joints)."""

from __future__ import annotations

import argparse

from rich.progress import Progress

from twostream.cli.console import console

HELP = "render a synthetic dataset of cartoon actors performing actions (UCF101 layout with split files)"


def parse_size(text: str) -> tuple[int, int]:
    """``"160x120"`` → ``(160, 120)`` (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be WIDTHxHEIGHT, e.g. 160x120") from None
    return width, height


def parse_classes(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_duration(text: str) -> tuple[float, float]:
    """``"60"`` → ``(60, 60)``, ``"30-90"`` → ``(30, 90)`` seconds."""
    try:
        low, high = (float(v) for v in text.split("-")) if "-" in text else (float(text),) * 2
    except ValueError:
        raise argparse.ArgumentTypeError(f"duration {text!r} must be SECONDS or LOW-HIGH, e.g. 30-90") from None
    return low, high


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from twostream.datasets.synth import ACTIONS, DEFAULT_SIZE

    parser.add_argument("out", metavar="OUT", help="folder to write the dataset into (created if missing)")
    parser.add_argument("--videos-per-class", type=int, default=6, help="clips per class (2 or more)")
    parser.add_argument("--clips-per-group", type=int, default=None, metavar="N",
                        help="clips per actor and class (default: 2 from 4 videos per class up); 1 = most actors")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same dataset")
    parser.add_argument("--frames", type=int, default=40, help="frames per clip (25 fps)")
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, metavar="WxH",
                        help="frame size, width x height")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into OUT even when it already holds files (its split lists are replaced)")
    parser.add_argument("--classes", type=parse_classes, default=None, metavar="a,b,...",
                        help=f"comma-separated actions (default: all of {', '.join(ACTIONS)})")
    parser.add_argument("--untrimmed", type=int, default=None, metavar="N",
                        help="instead: N long videos of action sequences with idle stretches, ActivityNet-style "
                             "annotations.json (subsets by actor)")
    parser.add_argument("--duration", type=parse_duration, default=(30.0, 90.0), metavar="S|LOW-HIGH",
                        help="length of each untrimmed video in seconds")


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from twostream.datasets.synth import generate
    from twostream.paths import check_new_dataset

    check_new_dataset(args.out, overwrite=args.overwrite)
    if args.untrimmed is not None:
        return _untrimmed(args)

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("rendering", total=None)
        summary = generate(args.out, videos_per_class=args.videos_per_class, seed=args.seed, frames=args.frames,
                           size=args.size, classes=args.classes, clips_per_group=args.clips_per_group,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
    width, height = summary.size
    console.print(f"wrote {summary.num_videos} videos of {len(summary.classes)} classes "
                  f"({len(summary.train)} train, {len(summary.test)} test; {summary.frames} frames, "
                  f"{width}x{height}) to [bold]{escape(str(summary.root))}[/]", highlight=False)
    return 0


def _untrimmed(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from twostream.datasets.untrimmed import generate_untrimmed

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("rendering untrimmed videos", total=args.untrimmed)
        summary = generate_untrimmed(args.out, videos=args.untrimmed, duration=args.duration, seed=args.seed,
                                     size=args.size, classes=args.classes,
                                     progress=lambda done, total: bar.update(task, completed=done))
    subsets = ", ".join(f"{n} {name}" for name, n in summary.subsets.items())
    console.print(f"wrote {len(summary.videos)} untrimmed videos ({summary.seconds / 60:.1f} min, "
                  f"{summary.segments} action segments; {subsets}) to [bold]{escape(str(summary.root))}/videos[/], "
                  f"ground truth {escape(str(summary.annotations))}", highlight=False)
    return 0
