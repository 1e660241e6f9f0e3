"""`twostream live`: a trained, fused or exported run on a webcam, a video file or a stream, annotated live."""

from __future__ import annotations

import argparse
import os
from contextlib import ExitStack

from twostream.cli.console import console, warn
from twostream.cli.pose_args import add_pose_arguments, pose_config
from twostream.cli.precision_args import add_precision_argument, describe
from twostream.fusion import live
from twostream.fusion.live.capture import FrameSource
from twostream.fusion.live.sinks import AnnotatedWriter, PredictionLog, Window, display_available, prediction_record
from twostream.errors import TwostreamError
from twostream.paths import check_output_file
from twostream.streams.distributed import single_device

HELP = "Recognise actions live from a webcam, video file or stream URL, with skeleton and top-5 overlay."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="training run, fused run, or ONNX export folder (with export.json)")
    parser.add_argument("--source", default="0", help="webcam index, video file or stream URL")
    parser.add_argument("--no-window", action="store_true", help="do not open a window (headless)")
    parser.add_argument("--output", help="write the annotated video here (.mp4)")
    parser.add_argument("--log", help="write one JSON line per prediction here (.jsonl)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output / --log files that exist")
    parser.add_argument("--stride", type=int, default=8, help="run the models every K frames")
    parser.add_argument("--max-hz", type=float, default=None, help="at most N predictions per second")
    parser.add_argument("--smooth", type=int, default=4, help="average the last M fused predictions")
    parser.add_argument("--frame-step", type=int, default=None,
                        help="override the run's time scale: feed the models every Nth recent frame (default: "
                             "each stream's window from its run's sampling, at the source's fps)")
    parser.add_argument("--loop", action="store_true", help="repeat a video file until stopped")
    parser.add_argument("--fast", action="store_true",
                        help="read a file as fast as possible, every frame, not at its fps (default with --no-window)")
    parser.add_argument("--realtime", action="store_true",
                        help="with --no-window: still play a file at its fps, dropping frames as a camera would")
    parser.add_argument("--deterministic", action="store_true",
                        help="file only: every frame in order, inference inline on every K-th (reproducible)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    add_pose_arguments(parser)
    parser.add_argument("--pose-lanes", type=int, default=live.LiveConfig.pose_lanes,
                        help="pose estimators working side by side on successive frames (1: one at a time; "
                             "--deterministic always uses one)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="torch device for PyTorch runs")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="torch threads for inference (the rest of the cores keep capture + pose at pace)")
    add_precision_argument(parser, default="auto")  # live: speed matters


def _realtime(args: argparse.Namespace) -> bool:
    """Play a file at its fps only when someone watches (a window) or asks (--realtime): headless, every frame of
    the file is annotated instead of the few a slow machine keeps up with."""
    if args.fast and args.realtime:
        raise ValueError("--fast and --realtime contradict each other; pass one of them")
    return args.realtime or not (args.fast or args.deterministic or args.no_window)


def _check_outputs(args: argparse.Namespace) -> None:
    """--output and --log must not be the source, the run, each other, or (without --overwrite) existing files."""
    inputs = [args.source, args.run_dir]
    if args.output:
        check_output_file(args.output, inputs=inputs, overwrite=args.overwrite, flag="--output")
    if args.log:
        check_output_file(args.log, inputs=[*inputs, args.output], overwrite=args.overwrite, flag="--log")


def run(args: argparse.Namespace) -> int:
    config = live.LiveConfig(
        stride=args.stride, max_hz=args.max_hz, smooth=args.smooth, frame_step=args.frame_step,
        deterministic=args.deterministic, max_frames=args.max_frames, pose=pose_config(args),
        pose_lanes=args.pose_lanes,
    )
    if not args.no_window and not display_available():
        raise TwostreamError("no display available for the live window; run headless with "
                             "--no-window --output annotated.mp4 (and/or --log preds.jsonl)")
    if args.no_window and not (args.output or args.log):
        warn("--no-window without --output or --log: predictions are computed but not saved")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    _check_outputs(args)
    single_device(args.device)
    import torch

    torch.set_num_threads(args.threads)
    from twostream.fusion.run import load_run

    predictor = load_run(args.run_dir, device=args.device, threads=args.threads, precision=args.precision)
    if describe(predictor):
        console.print(f"precision: {describe(predictor)}", highlight=False)
    with ExitStack() as stack:
        source = stack.enter_context(FrameSource(args.source, loop=args.loop,
                                                 realtime=_realtime(args)))
        writer = stack.enter_context(AnnotatedWriter(args.output, source.fps)) if args.output else None
        log = stack.enter_context(PredictionLog(args.log)) if args.log else None
        window = None if args.no_window else stack.enter_context(Window())
        classes = list(predictor.classes)
        engine = live.LiveEngine(predictor, config, on_prediction=(
            (lambda result: log.write(prediction_record(result, classes))) if log else None))
        stats = engine.run(source, writer=writer, window=window)
    console.print(
        f"{stats.frames} frames, {stats.dropped} dropped, {stats.predictions} predictions; latency p50 "
        f"{stats.latency_percentile(50):.0f} ms, p95 {stats.latency_percentile(95):.0f} ms", highlight=False)
    span = max(s.span for s in (engine.buffer.video_spec, engine.buffer.keypoint_spec) if s is not None)
    if stats.predictions == 0:
        warn(f"no prediction: the source gave {stats.frames} frame(s)")
    elif not engine.buffer.ready:
        warn(f"the source ended after {stats.frames} frame(s), before the run's window of {span} filled: one answer, "
             "on the frames evaluation picks in a video that short; use a longer video or --loop for live answers")
    if stats.person_frames is not None and stats.frames:
        console.print(f"person found in {stats.person_frames}/{stats.frames} frames "
                      f"({stats.person_frames / stats.frames:.0%})", highlight=False)
    for label, path in (("annotated video", args.output), ("prediction log", args.log)):
        if path:
            console.print(f"{label}: {path}", highlight=False, markup=False)
    return 0
