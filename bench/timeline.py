"""`twostream timeline` speed: video seconds processed per wall second (real-time factor) on an untrimmed cartoon.

    .venv/bin/python bench/timeline.py [--seconds 60] [--size 160x120] [--hop 0.5] [--threads 2] [--run RUN]

One untrimmed cartoon video (``synth --untrimmed``) is rendered and its skeleton extracted to a ``.pose.npz``
cache (setup, not timed), then ``timeline`` (scoring every window, segments, timeline.png) is timed on it with an
RGB-only run, a pose-only run and their fused run. Default runs: random-init ``cnn_lstm`` (64 px × 8 frames;
``--rgb-model resnet50_lstm`` for the 224 px ResNet-50) and ``pose_gru`` (8 frames) over the 12 cartoon classes
with fixed 1:1 fusion (weights do not change the cost); ``--run`` times a trained run of yours instead. Window
span 5 s. Runs with a frame-wise RGB stream are timed twice: ``(clip path)`` sends every window's frames through
the backbone, the default reuses each frame's features across the windows that share it. The last line is
``rtf_rgb=R rtf_pose=R rtf_fused=R rtf_rgb_clip=R rtf_fused_clip=R reuse_speedup_fused=X`` (target: fused >= 3
on 2 cores). Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from twostream.cli.cmd_synth import parse_size
from twostream.datasets.actions import ACTIONS
from twostream.datasets.untrimmed import generate_untrimmed
from twostream.fusion.features import is_frame_wise
from twostream.fusion.backends import PRECISIONS
from twostream.fusion.run import load_run, write_fused_run
from twostream.fusion.timeline.pipeline import TimelineConfig, detect_video
from twostream.pose.cache import cache_path_for, save_cache
from twostream.pose.extract import extract_video
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

CLASSES = list(ACTIONS)
console = Console()


def _write_runs(root: Path, rgb_model: str) -> dict[str, Path]:
    paths = {}
    for role, arch, kwargs in (("rgb", rgb_model, {"clip_len": 8}), ("pose", "pose_gru", {"clip_len": 8})):
        kwargs = {"num_classes": len(CLASSES), **kwargs}
        paths[role] = root / role / "best.pt"
        save_checkpoint(paths[role], {"model": build(arch, **kwargs).state_dict(), "arch": arch,
                                      "arch_kwargs": kwargs, "classes": CLASSES, "config": {}, "epoch": 0,
                                      "metrics": {}})
    record = {"mode": "fixed", "params": {"fixed": {"weight": 0.5}}, "classes": CLASSES, "streams": {}}
    return {**{role: path.parent for role, path in paths.items()},
            "fused": write_fused_run(root / "fused", record, paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the untrimmed video")
    parser.add_argument("--size", type=parse_size, default=(160, 120), metavar="WxH")
    parser.add_argument("--hop", type=float, default=0.5)
    parser.add_argument("--window", type=float, default=5.0, help="window span in seconds")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--run", type=Path, default=None, help="time this trained run instead of random ones")
    parser.add_argument("--rgb-model", default="cnn_lstm", help="RGB architecture of the random runs (its own size)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the RGB stream's precision, as `twostream timeline --precision` (default auto)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate_untrimmed(root / "data", videos=1, duration=(args.seconds, args.seconds), size=args.size)
        video = root / "data" / "videos" / f"{data.videos[0]}.avi"
        started = time.perf_counter()
        cache = extract_video(video)
        save_cache(cache, cache_path_for(video))
        extract_s = time.perf_counter() - started
        runs = {"run": args.run} if args.run is not None else _write_runs(root / "runs", args.rgb_model)
        cfg = TimelineConfig(hop=args.hop, window=args.window, batch_size=args.batch_size)
        table = Table(title=f"timeline on a {data.seconds:.0f} s {args.size[0]}x{args.size[1]} cartoon video "
                            f"(cached skeleton; hop {args.hop:g} s, window {args.window:g} s, "
                            f"{args.threads} torch threads, precision {args.precision})")
        for column in ("run", "streams", "windows", "wall s", "real-time factor", "segments"):
            table.add_column(column, justify="left" if column in ("run", "streams") else "right")
        rtf = {}
        for name, run in runs.items():
            predictor = load_run(run, precision=args.precision)
            spans = {key: args.window for key in predictor.specs}
            frame_wise = any(is_frame_wise(m) for m in predictor.models.values())
            for reuse in (False, True) if frame_wise else (True,):
                label = name if reuse else f"{name}_clip"
                result = detect_video(predictor, video, spans, replace(cfg, reuse_features=reuse),
                                      root / "out" / label)
                rtf[label] = result.timeline.duration / result.seconds
                table.add_row(name if reuse else f"{name} (clip path)", "+".join(predictor.models),
                              str(len(result.timeline.times)), f"{result.seconds:.2f}", f"{rtf[label]:.1f}×",
                              str(len(result.segments["fused"])))
        console.print(table)
        console.print(f"setup, not timed: MediaPipe over {cache.num_frames} frames took {extract_s:.1f} s "
                      f"({data.seconds / extract_s:.1f}× real time) — what a run without a cache adds")
        speedup = {f"reuse_speedup_{n}": rtf[n] / rtf[f"{n}_clip"] for n in runs if f"{n}_clip" in rtf}
        print(" ".join([*(f"rtf_{name}={value:.2f}" for name, value in rtf.items()),
                        *(f"{name}={value:.2f}" for name, value in speedup.items())]))


if __name__ == "__main__":
    main()
