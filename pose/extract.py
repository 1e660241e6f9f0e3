"""Keypoint extraction at dataset scale: every video under a root → a ``.pose.npz`` cache beside it.

Resumable (up-to-date caches are skipped), parallel (a process pool over videos), shardable across machines
(``shard=(i, n)``: sorted relative paths, round-robin) and fault tolerant (a broken video is reported as failed
and the run goes on). Returns an ``ExtractReport`` and writes it as JSON at the root; it never prints.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from twostream.datasets.folder import is_video
from twostream.datasets.video import iter_frames, probe
from twostream.errors import VideoReadError
from twostream.resources import die_with_parent
from twostream.pose.cache import (PoseCache, cache_path_for, load_fresh, remove_stale_temps, save_cache,
                                  temp_path_for, video_digest, video_stamp)

Status = Literal["extracted", "skipped", "failed"]
REPORT_NAME = "extract-report.json"


@dataclass(frozen=True)
class ExtractConfig:
    """Settings of one ``twostream extract`` run (one field per CLI flag)."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Processes extracting in parallel, one video each; 1 runs in this process."""
    shard: tuple[int, int] = (1, 1)
    """(i, n), 1-based: this machine takes videos i-1, i-1+n, i-1+2n, … of the sorted list."""
    every: int = 1
    """Process every K-th frame (others map to the nearest processed one when read)."""
    model_complexity: int = 1
    """MediaPipe Pose model: 0 lite, 1 full, 2 heavy."""
    force: bool = False
    """Redo videos whose cache is up to date."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        i, n = self.shard
        if not (n >= 1 and 1 <= i <= n):
            raise ValueError(f"shard must be I/N with 1 <= I <= N, got {i}/{n}")
        if self.every < 1:
            raise ValueError(f"every must be >= 1 (1 = every frame), got {self.every}")
        if self.model_complexity not in (0, 1, 2):
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {self.model_complexity}")


@dataclass(frozen=True)
class VideoResult:
    """One line of the report."""

    video: str
    """Path relative to the root (the file name when the root is a single video)."""
    status: Status
    frames: int
    """Frames processed (or held by the skipped cache)."""
    detected_fraction: float
    reason: str = ""


@dataclass(frozen=True)
class ExtractReport:
    root: Path
    results: tuple[VideoResult, ...]
    report_path: Path | None
    """Where the JSON was written (None for a single video)."""
    seconds: float

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; ``ValueError`` naming the value otherwise."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 1/4), got {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ValueError(f"--shard I/N needs 1 <= I <= N, got {text!r}")
    return i, n


def list_videos(root: str | os.PathLike) -> list[Path]:
    """Every video under ``root`` (recursive), sorted by relative path; ``root`` may be one video file.

    Files named ``*.pose.*`` (annotated outputs of ``pose-show``) are not inputs and are left out.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no video or folder at {root}")
    videos = [p for p in root.rglob("*") if is_video(p) and ".pose." not in p.name]
    return sorted(videos, key=lambda p: p.relative_to(root).as_posix())


def shard_videos(videos: list[Path], shard: tuple[int, int]) -> list[Path]:
    """Round-robin share ``shard=(i, n)`` of an already sorted list: no overlap, no gap across the n shards."""
    i, n = shard
    return videos[i - 1::n]


def extract_video(video: str | os.PathLike, *, every: int = 1, model_complexity: int = 1) -> PoseCache:
    """Run MediaPipe Pose (tracking mode, one landmarker) over ``video``; ``VideoReadError`` when unreadable."""
    from twostream.pose.landmarks import EXTRACTOR, PoseEstimator, mediapipe_version

    size, mtime_ns = video_stamp(video)  # before decoding: a video changed meanwhile then reads as stale
    digest = video_digest(video)
    info = probe(video)
    landmarks, world, indices, detected = [], [], [], []
    num_frames = 0
    with PoseEstimator(model_complexity) as estimator:
        for index, frame in enumerate(iter_frames(video)):
            num_frames = index + 1
            if index % every:
                continue
            result = estimator.process(frame)
            landmarks.append(result.landmarks)
            world.append(result.world)
            detected.append(result.detected)
            indices.append(index)
    return PoseCache(
        landmarks=np.stack(landmarks).astype(np.float32),  # (N, 33, 4)
        world=np.stack(world).astype(np.float32),  # (N, 33, 4)
        frame_indices=np.asarray(indices, np.int64), detected=np.asarray(detected, bool),
        fps=float(info.fps), num_frames=num_frames, width=info.width, height=info.height, every=every,
        model_complexity=model_complexity, mediapipe_version=mediapipe_version(), video_size=size,
        video_mtime_ns=mtime_ns, extractor=EXTRACTOR, video_digest=digest,
    )


def process_video(video: Path, rel: str, config: ExtractConfig) -> VideoResult:
    """Skip, extract or fail one video; never raises for a bad video (the reason goes in the report)."""
    path = cache_path_for(video)
    if not config.force:
        cache = load_fresh(video, model_complexity=config.model_complexity, every=config.every)
        if cache is not None:
            return VideoResult(rel, "skipped", len(cache.frame_indices), cache.detected_fraction, "up to date")
    remove_stale_temps(path)
    try:
        expected = probe(video).num_frames
        cache = extract_video(video, every=config.every, model_complexity=config.model_complexity)
        save_cache(cache, path)
    except (VideoReadError, OSError) as exc:
        return VideoResult(rel, "failed", 0, 0.0, str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. MediaPipe rejecting a frame: report it, finish the others
        return VideoResult(rel, "failed", 0, 0.0, f"{type(exc).__name__}: {exc}")
    reason = ""
    if cache.num_frames < expected:
        reason = f"decoded {cache.num_frames} of the {expected} frames the container announces (truncated?)"
    return VideoResult(rel, "extracted", len(cache.frame_indices), cache.detected_fraction, reason)


def _run_all(jobs: list[tuple[Path, str]], config: ExtractConfig,
             on_result: Callable[[VideoResult], None]) -> dict[str, VideoResult]:
    results: dict[str, VideoResult] = {}
    workers = min(config.workers, len(jobs))
    if workers <= 1:
        for video, rel in jobs:
            results[rel] = process_video(video, rel, config)
            on_result(results[rel])
        return results
    # spawn: MediaPipe's graph threads and torch's thread pools do not survive a fork.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent) as pool:  # a killed run leaves no orphaned workers
        futures = {pool.submit(process_video, video, rel, config): rel for video, rel in jobs}
        for future in as_completed(futures):
            rel = futures[future]
            try:
                results[rel] = future.result()
            except Exception as exc:  # a worker that died (e.g. a crash inside MediaPipe)
                results[rel] = VideoResult(rel, "failed", 0, 0.0, f"worker failed: {exc!r}")
            on_result(results[rel])
    return results


def report_path_for(root: Path, shard: tuple[int, int]) -> Path:
    """``ROOT/extract-report.json``, or ``extract-report.shard-I-of-N.json`` so shards don't clobber each other."""
    i, n = shard
    return root / (REPORT_NAME if n == 1 else f"extract-report.shard-{i}-of-{n}.json")


def _write_json(data: dict, path: Path) -> None:
    tmp = temp_path_for(path)
    try:
        with open(tmp, "x") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract_dataset(root: str | os.PathLike, config: ExtractConfig = ExtractConfig(), *,
                    on_start: Callable[[int], None] | None = None,
                    on_result: Callable[[VideoResult], None] | None = None) -> ExtractReport:
    """Extract keypoints for every video of this shard under ``root`` (a folder or one video file).

    ``on_start(n_videos)`` is called once the work is known and ``on_result(result)`` after each video (in
    completion order), for progress bars. The report lists videos in sorted order; for a folder it is also
    written to ``report_path_for(root, config.shard)``.
    """
    root = Path(root)
    start = time.perf_counter()
    videos = shard_videos(list_videos(root), config.shard)
    jobs = [(v, v.name if root.is_file() else v.relative_to(root).as_posix()) for v in videos]
    if on_start is not None:
        on_start(len(jobs))
    results = _run_all(jobs, config, on_result or (lambda result: None))
    ordered = tuple(results[rel] for _, rel in jobs)
    report_path = None if root.is_file() else report_path_for(root, config.shard)
    report = ExtractReport(root, ordered, report_path, time.perf_counter() - start)
    if report_path is not None:
        _write_json({"root": str(root), "shard": list(config.shard), "config": asdict(config),
                     "counts": {s: report.count(s) for s in ("extracted", "skipped", "failed")},
                     "videos": [asdict(r) for r in ordered]}, report_path)
    return report
