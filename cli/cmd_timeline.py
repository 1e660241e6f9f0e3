"""`twostream timeline RUN VIDEO...`: slide the run over untrimmed videos → action segments, timeline.png."""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.cli.precision_args import add_precision_argument

HELP = "Untrimmed videos → action segments over time (ActivityNet results JSON), timeline.png, annotated video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a training run or a fused run")
    parser.add_argument("videos", type=Path, nargs="+", metavar="VIDEO", help="untrimmed videos")
    parser.add_argument("--out", type=Path, default=Path("timeline"), help="folder for segments.json and pictures")
    parser.add_argument("--hop", type=float, default=0.5, metavar="SECONDS", help="time between window centres")
    parser.add_argument("--window", type=float, default=None, metavar="SECONDS",
                        help="window span (default: the run's time scale, the median length of its training videos)")
    parser.add_argument("--min-score", type=float, default=0.5, metavar="P",
                        help="background unless the most probable class reaches P")
    parser.add_argument("--smooth", type=int, default=3, metavar="N", help="moving average over N windows")
    parser.add_argument("--max-gap", type=float, default=1.0, metavar="SECONDS", help="merge stretches this close")
    parser.add_argument("--min-duration", type=float, default=0.5, metavar="SECONDS", help="drop shorter segments")
    parser.add_argument("--gt", type=Path, default=None, metavar="JSON",
                        help="ActivityNet annotations: ground truth drawn in timeline.png")
    parser.add_argument("--video", action="store_true", help="also write <id>.timeline.mp4 with the current label")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    add_precision_argument(parser, default="auto")  # many windows per video: speed matters


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from twostream.cli.console import console, warn
    from twostream.cli.precision_args import describe
    from twostream.errors import TwostreamError
    from twostream.fusion.run import load_run
    from twostream.fusion.timeline.pipeline import (TimelineConfig, detect_video, open_ground_truth,
                                                    resolve_spans, video_ids, write_results)
    from twostream.fusion.timeline.segments import SegmentConfig
    from twostream.paths import check_output_dir

    cfg = TimelineConfig(hop=args.hop, window=args.window, batch_size=args.batch_size,
                         segments=SegmentConfig(args.min_score, args.smooth, args.max_gap, args.min_duration))
    check_output_dir(args.out, inputs=[args.run_dir, *args.videos], flag="--out")
    predictor = load_run(args.run_dir, device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
                         precision=args.precision)
    spans = resolve_spans(args.run_dir, predictor, cfg.window)
    gt = open_ground_truth(args.gt) if args.gt is not None else None
    console.print(f"{args.run_dir}: streams {describe(predictor)}, window "
                  + ", ".join(f"{key} {'its sampling record' if spans[key] is None else f'{spans[key]:.2f} s'}"
                              f" × {spec.clip_len} frames" for key, spec in predictor.specs.items())
                  + f", hop {cfg.hop:g} s", highlight=False)
    results, failed = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        for path, vid in zip(args.videos, video_ids(args.videos, gt)):
            task = bar.add_task(path.name, total=None)
            try:
                results.append(detect_video(predictor, path, spans, cfg, args.out, gt=gt, annotate=args.video,
                                            on_frame=lambda done, total: bar.update(task, completed=done,
                                                                                    total=total), vid=vid))
            except (TwostreamError, OSError, ValueError) as exc:
                failed.append((path, str(exc)))
                warn(f"{path}: {exc} (skipped)")
            bar.remove_task(task)
    if not results:
        raise ValueError(f"none of the {len(args.videos)} videos could be processed (listed above)")
    files = write_results(results, args.out)
    for r in results:
        console.print(f"{r.video_id}: {r.timeline.duration:.1f} s, {len(r.segments['fused'])} segments, "
                      f"{r.timeline.duration / r.seconds:.1f}× real time (keypoints: "
                      f"{r.timeline.keypoints_from or '-'})", highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in files), highlight=False)
    if failed:
        warn(f"{len(failed)} of {len(args.videos)} videos failed: " + ", ".join(str(p) for p, _ in failed))
        return 1
    return 0
