"""The live fused demo under load: pose on every frame + an RGB model on a stride, a file played as a 30 fps camera.

    .venv/bin/python bench/live.py [--clip CLIP] [--seconds 120] [--rgb-model r3d_18] [--size 112] [--stride 8]
                                   [--pose-model full] [--persons 2]
    .venv/bin/python bench/live.py --rgb-model resnet50_lstm --size 224      # the seed's live model, streaming
    .venv/bin/python bench/live.py --precision fp32                          # as before bf16 (default: auto)

A fused run of two random-init streams (``--rgb-model`` at ``--size`` px × 16 frames, ST-GCN on MediaPipe-33,
fixed 1:1 fusion — weights do not change the cost) is written to a temp folder and played live on ``--clip``
looped in real time, headless (annotated frames go to a null display, or ``--output``). The run records a
UCF101-like time scale (segment sampling over ``--span-s`` 7 s videos at 25 fps), so each stream's window spans
7 s of the source as in training; frame-wise models (``cnn_lstm``, ``resnet50_lstm``) compute each sampled
frame's features once and run only the LSTM per prediction. Reported:

* fps_ratio: displayed frames/s over the source's fps (target >= 0.85);
* latency p50 / p95: capture of a frame → its annotated frame out (target p95 <= 150 ms);
* pred_hz: predictions per second once the first window is full — the window's fill time (``--span-s`` of
  source, 7 s by default) is a start-up delay, shown on its own row, not a rate (target >= 2 for 3D CNNs at
  stride 8, >= 5 for frame-wise models at their default stride 5: at most 30 / stride); dropped frames; skipped
  inferences;
* mem_growth_mb: resident memory, mean of the last quarter of the samples minus the second quarter (flat ≈ 0);
* where the time goes: wall ms per frame of ingest (pose + tracking + preprocessing + buffers) and present
  (the annotated frame), and per prediction of infer (both streams, fusion, smoothing), p50 / p95.

Inference runs in its own thread with ``--torch-threads`` (default 1) so capture + pose + drawing keep the other
core, in ``--precision`` (default auto, as ``twostream live``: the RGB stream in bf16 on a CPU with AMX). The last line is ``fps_ratio=R p95_ms=L pred_hz=H mem_growth_mb=M``. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's native log lines would bury the table
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from twostream.datasets.sampling import SPAN_QUANTILES, Sampling
from twostream.fusion.backends import PRECISIONS
from twostream.fusion.live import LiveConfig, LiveEngine
from twostream.fusion.live.capture import FrameSource
from twostream.fusion.live.records import STAGES
from twostream.fusion.live.sinks import AnnotatedWriter
from twostream.fusion.run import load_run, write_fused_run
from twostream.pose.backends import PoseConfig
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "mmaction2_test.mp4"
CLASSES = [f"class_{i:02d}" for i in range(10)]
console = Console()


def _write_run(root: Path, rgb_model: str, clip_len: int, size: int, pose_len: int, span_s: float) -> Path:
    paths = {}
    sampling = Sampling("segment", fps=25.0, span_s=(span_s,) * len(SPAN_QUANTILES)).to_dict()
    for role, arch, kwargs in (("rgb", rgb_model, {"clip_len": clip_len, "size": size}),
                               ("pose", "pose_stgcn", {"clip_len": pose_len})):
        kwargs = {"num_classes": len(CLASSES), **kwargs}
        paths[role] = root / role / "best.pt"
        save_checkpoint(paths[role], {"model": build(arch, **kwargs).state_dict(), "arch": arch,
                                      "arch_kwargs": kwargs, "classes": CLASSES, "config": {}, "epoch": 0,
                                      "metrics": {}, "sampling": sampling})
    record = {"mode": "fixed", "params": {"fixed": {"weight": 0.5}}, "classes": CLASSES, "streams": {}}
    return write_fused_run(root / "fused", record, paths)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _MemorySampler(threading.Thread):
    def __init__(self, every: float = 0.5):
        super().__init__(daemon=True)
        self.every, self.samples, self.done = every, [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append(_rss_mb())

    def growth(self) -> float:
        """Mean of the last quarter minus mean of the second quarter (the first is warm-up)."""
        s = np.asarray(self.samples)
        q = len(s) // 4
        return float(s[-q:].mean() - s[q:2 * q].mean()) if q else float("nan")


class _NullDisplay:
    def show(self, image) -> int:
        return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rgb-model", default="r3d_18", help="registered RGB architecture (random weights)")
    parser.add_argument("--stride", type=int, default=None, help="default: 5 for frame-wise models, else 8")
    parser.add_argument("--span-s", type=float, default=7.0, help="training video length the run records (s)")
    parser.add_argument("--smooth", type=int, default=4)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--clip-len", type=int, default=16)
    parser.add_argument("--pose-len", type=int, default=32)
    parser.add_argument("--pose-model", default="full")
    parser.add_argument("--persons", type=int, default=2)
    parser.add_argument("--pose-lanes", type=int, default=LiveConfig.pose_lanes,
                        help="pose estimators side by side, as `twostream live --pose-lanes`")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the RGB stream's precision, as `twostream live --precision` (auto: bf16 on AMX)")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="niceness added to the inference thread: > 0 favours capture + pose (Linux)")
    parser.add_argument("--output", type=Path, default=None, help="also write the annotated video here")
    args = parser.parse_args()
    if not args.clip.is_file():
        raise SystemExit(f"clip not found: {args.clip}; pass --clip")
    torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        predictor = load_run(_write_run(Path(tmp), args.rgb_model, args.clip_len, args.size, args.pose_len,
                                        args.span_s), precision=args.precision)
        args.precision = predictor.backends["rgb"].precision  # what auto resolved to, for the table
        if args.stride is None:
            args.stride = 5 if predictor.backends["rgb"].frame_wise else 8
        sampler = _MemorySampler()
        with FrameSource(args.clip, loop=True, realtime=True) as source:
            config = LiveConfig(stride=args.stride, smooth=args.smooth,
                                pose=PoseConfig(model=args.pose_model, persons=args.persons),
                                worker_nice=args.worker_nice, pose_lanes=args.pose_lanes,
                                max_frames=int(args.seconds * source.fps))
            first: list[float] = []  # when the first window was full and scored
            engine = LiveEngine(predictor, config, on_prediction=lambda _: first or first.append(time.perf_counter()))
            writer = AnnotatedWriter(args.output, source.fps) if args.output else None
            sampler.start()
            start = time.perf_counter()
            try:
                stats = engine.run(source, writer=writer, window=_NullDisplay())
            finally:
                if writer is not None:
                    writer.close()
            end = time.perf_counter()
            sampler.done.set()
            fps = source.fps
    _report(args, stats, end - start, (first[0] - start) if first else float("nan"), fps, sampler)


def _report(args: argparse.Namespace, stats, elapsed: float, fill_s: float, fps: float,
            sampler: _MemorySampler) -> None:
    fps_ratio = stats.frames / elapsed / fps
    p50, p95 = stats.latency_percentile(50), stats.latency_percentile(95)
    pred_hz = (stats.predictions - 1) / (elapsed - fill_s) if stats.predictions > 1 else 0.0  # once windows are full
    growth = sampler.growth()
    table = Table(title=f"live: {args.clip.name} at {fps:.1f} fps, {elapsed:.0f} s, {args.rgb_model} {args.size}px×"
                        f"{args.clip_len} ({args.precision}) + ST-GCN×{args.pose_len} over {args.span_s:g} s, stride {args.stride}, "
                        f"pose model {args.pose_model} x {args.persons} persons in {args.pose_lanes} lane(s), torch threads {args.torch_threads}, "
                        f"worker nice {args.worker_nice}")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    rows = [("displayed fps / source fps", f"{fps_ratio:.2f}", ">= 0.85"),
            ("latency p50 (ms)", f"{p50:.0f}", ""), ("latency p95 (ms)", f"{p95:.0f}", "<= 150"),
            ("predictions / s (once the first window is full)", f"{pred_hz:.2f}", ">= 5" if args.stride <= 6 else ">= 2"),
            ("first prediction after (s: the window fills)", f"{fill_s:.1f}", ""),
            ("predictions / s over the whole run", f"{stats.predictions / elapsed:.2f}", ""),
            ("frames shown", str(stats.frames), ""),
            ("frames dropped", str(stats.dropped), ""), ("inferences skipped", str(stats.skipped_inferences), ""),
            ("RSS start → end (MB)", f"{sampler.samples[0]:.0f} → {sampler.samples[-1]:.0f}"
             if sampler.samples else "-", ""), ("memory growth (MB)", f"{growth:.1f}", "≈ 0")]
    rows += [(f"{stage} p50 / p95 (ms{' per prediction' if stage == 'infer' else ' per frame'})",
              f"{stats.stage_percentile(stage, 50):.1f} / {stats.stage_percentile(stage, 95):.1f}", "")
             for stage in STAGES]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print(f"fps_ratio={fps_ratio:.2f} p95_ms={p95:.0f} pred_hz={pred_hz:.2f} mem_growth_mb={growth:.1f}")


if __name__ == "__main__":
    main()
