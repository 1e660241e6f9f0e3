"""Keypoint extraction on real clips: throughput against a bare MediaPipe loop, worker scaling, detection rates.

    .venv/bin/python bench/extract.py [CLIP_DIR] [--frames 150] [--clips 6] [--repeat 1]   # throughput
    .venv/bin/python bench/extract.py [CLIP_DIR] --detection [--frames 150]                # person found

Each clip's first ``--frames`` frames are copied (MJPG, quality 95) to a temporary dataset so every run sees
exactly the same frames. Throughput compares, over those frames:

* a bare loop: ``mediapipe.solutions.pose.Pose`` (tracking mode, one per clip) over frames decoded beforehand,
  i.e. pure pose inference — this script imports mediapipe directly on purpose, as the baseline;
* ``extract_dataset(workers=1)``: decoding, pose, cache writing, report — its frames/s over the bare one is
  ``ratio_vs_bare`` (target >= 0.9);
* ``extract_dataset(workers=2)``: process pool incl. its start-up — over 1 worker is ``scaling_2_workers``
  (target >= 1.7 on 2 idle cores). Use an even number of equally long clips so both workers get equal work.

The last line is ``ratio_vs_bare=R scaling_2_workers=S``. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from twostream.datasets.folder import VIDEO_EXTENSIONS
from twostream.datasets.video import iter_frames
from twostream.pose.extract import ExtractConfig, extract_dataset, extract_video

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"
console = Console()


def _trim(src: Path, dst: Path, frames: int) -> int:
    """Copy the first ``frames`` frames (all when 0) of ``src`` to an MJPG ``dst``; returns how many."""
    writer, count = None, 0
    for frame in iter_frames(src):
        if frames and count >= frames:
            break
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        count += 1
    writer.release()
    return count


def _prepare(clip_dir: Path, out: Path, frames: int, limit: int | None, equal: bool) -> list[Path]:
    """Trimmed copies ``out/<name>_<ext>.avi``; ``equal`` keeps only clips with >= ``frames`` frames."""
    clips = sorted(p for p in clip_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if equal and frames:  # so that every clip (and every worker) gets the same work
        clips = [c for c in clips if cv2.VideoCapture(str(c)).get(cv2.CAP_PROP_FRAME_COUNT) >= frames]
    clips = clips[:limit] if limit else clips
    if not clips:
        raise SystemExit(f"no clips with >= {frames} frames in {clip_dir}")
    copies = [out / (clip.name.replace(".", "_") + ".avi") for clip in clips]
    for clip, copy in zip(clips, copies):
        _trim(clip, copy, frames)
    return copies


def _bare_loop(videos: list[Path], model_complexity: int) -> tuple[int, float]:
    import mediapipe as mp

    decoded = [list(iter_frames(v)) for v in videos]  # decoding is not timed: inference only
    count, start = 0, time.perf_counter()
    for frames in decoded:
        with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=model_complexity,
                                    enable_segmentation=False) as pose:
            for frame in frames:
                pose.process(frame)
                count += 1
    return count, time.perf_counter() - start


def _extract(root: Path, workers: int, model_complexity: int) -> tuple[int, float]:
    report = extract_dataset(root, ExtractConfig(workers=workers, model_complexity=model_complexity, force=True))
    if not report.ok:
        raise SystemExit(f"extraction failed: {[r for r in report.results if r.status == 'failed']}")
    return sum(r.frames for r in report.results), report.seconds


def _best(run, repeat: int) -> tuple[int, float]:
    """Fastest of ``repeat`` runs: other processes on the machine only ever slow a run down."""
    return min((run() for _ in range(repeat)), key=lambda frames_seconds: frames_seconds[1])


def throughput(videos: list[Path], root: Path, model_complexity: int, repeat: int) -> None:
    rows = [("bare MediaPipe loop", 1, *_best(lambda: _bare_loop(videos, model_complexity), repeat)),
            ("extract --workers 1", 1, *_best(lambda: _extract(root, 1, model_complexity), repeat)),
            ("extract --workers 2", 2, *_best(lambda: _extract(root, 2, model_complexity), repeat))]
    table = Table(title=f"keypoint extraction, {len(videos)} clips, model_complexity={model_complexity}")
    for column in ("run", "frames", "seconds", "frames/s", "frames/s per worker"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, workers, frames, seconds in rows:
        fps = frames / seconds
        table.add_row(name, str(frames), f"{seconds:.2f}", f"{fps:.1f}", f"{fps / workers:.1f}")
    console.print(table)
    fps = [frames / seconds for _, _, frames, seconds in rows]
    print(f"ratio_vs_bare={fps[1] / fps[0]:.2f} scaling_2_workers={fps[2] / fps[1]:.2f}")


def detection(videos: list[Path], model_complexity: int) -> None:
    table = Table(title=f"person found per clip (MediaPipe Pose, model_complexity={model_complexity})")
    for column in ("clip", "frames", "detected", "rate"):
        table.add_column(column, justify="right" if column != "clip" else "left")
    rates = []
    for video in videos:
        cache = extract_video(video, model_complexity=model_complexity)
        rates.append(cache.detected_fraction)
        table.add_row(video.stem.replace("_avi", ".avi").replace("_mp4", ".mp4"), str(len(cache.detected)), str(int(cache.detected.sum())), f"{rates[-1]:.1%}")
    console.print(table)
    print(f"mean_detection_rate={np.mean(rates):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--frames", type=int, default=0, help="first N frames of each clip (0 = all)")
    parser.add_argument("--clips", type=int, default=0, help="at most this many clips (0 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="time each run this many times, keep the fastest")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1, 2), default=1)
    parser.add_argument("--detection", action="store_true", help="print detection rates instead of throughput")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twostream-bench-") as tmp:
        limit = None if args.detection or not args.clips else args.clips
        videos = _prepare(args.clip_dir, Path(tmp), args.frames, limit, equal=not args.detection)
        if args.detection:
            detection(videos, args.model_complexity)
        else:
            throughput(videos, Path(tmp), args.model_complexity, args.repeat)


if __name__ == "__main__":
    main()
