"""Keypoint extraction at dataset scale: every video under a root → a ``.pose.npz`` cache beside it.

Resumable (up-to-date caches are skipped), parallel (a process pool over videos), shardable across machines
(``shard=(i, n)``: sorted relative paths, round-robin) and fault tolerant (a broken video is reported as failed
and the run goes on). Returns an ``ExtractReport`` and writes it as JSON at the root; it never prints.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import numpy as np

from twostream.datasets.folder import is_video
from twostream.datasets.video import iter_frames, probe
from twostream.errors import VideoReadError
from twostream.resources import die_with_parent
from twostream.pose.backends import PoseConfig
from twostream.pose.cache import (PoseCache, cache_path_for, load_fresh, model_name, remove_stale_temps, save_cache,
                                  temp_path_for, video_digest, video_stamp)
from twostream.pose.tracking import PoseStream, Tracked, rank_slots

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
    pose: PoseConfig = PoseConfig()
    """Backend, model (``--pose-model``) and persons per frame (``--persons``)."""
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
    frames_1plus: int = 0
    """Processed frames with at least one person."""
    frames_2plus: int = 0
    """Processed frames with at least two persons."""


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


def track_video(stream: PoseStream, frames: Iterable[np.ndarray], fps: float,
                every: int = 1) -> tuple[list[int], list[Tracked]]:
    """Every ``every``-th frame through ``stream``; (frame indices, tracked frames)."""
    indices, tracked = [], []
    for index, frame in enumerate(frames):
        if index % every == 0:
            tracked.append(stream.process(frame, round(index * 1000 / (fps or 30.0))))
            indices.append(index)
    return indices, tracked


def extract_video(video: str | os.PathLike, *, every: int = 1, pose: PoseConfig = PoseConfig()) -> PoseCache:
    """Tracked keypoints of up to ``pose.persons`` people in ``video``; ``VideoReadError`` when unreadable."""
    from twostream.pose.mediapipe_tasks import mediapipe_version

    size, mtime_ns = video_stamp(video)  # before decoding: a video changed meanwhile then reads as stale
    digest = video_digest(video)
    info = probe(video)
    num_frames = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal num_frames
        for num_frames, frame in enumerate(iter_frames(video), start=1):
            yield frame

    with PoseStream(pose) as stream:
        indices, tracked = track_video(stream, frames(), float(info.fps), every)
        layout = stream.layout
    return tracked_cache(indices, tracked, pose, layout,
                         fps=float(info.fps), num_frames=num_frames, width=info.width, height=info.height,
                         every=every, mediapipe_version=mediapipe_version(), video_size=size,
                         video_mtime_ns=mtime_ns, video_digest=digest)


def cached_or_extracted(video: str | os.PathLike, pose: PoseConfig = PoseConfig()) -> PoseCache:
    """``video``'s keypoint cache when it is fresh and made with ``pose``'s model and persons; else extracted now
    and saved beside the video (atomically), as ``extract`` would."""
    cache = load_fresh(video, model=pose.model, persons=pose.persons)
    if cache is None:
        cache = extract_video(video, pose=pose)
        save_cache(cache, cache_path_for(video))
    return cache


def tracked_cache(indices: list[int], tracked: list[Tracked], pose: PoseConfig, layout: str,
                  **stamp) -> PoseCache:
    """A ``PoseCache`` from tracked frames, slots reordered so that slot 0 is the main actor (``rank_slots``).

    ``stamp``: the remaining ``PoseCache`` fields (fps, sizes, video stamp, ...).
    """
    num_joints = tracked[0].keypoints.shape[1] if tracked else 0
    empty = Tracked(*(np.zeros((0, pose.persons, num_joints, 4), np.float32),) * 2,
                    np.zeros((0, pose.persons), np.float32), np.zeros((0, pose.persons), np.int64))
    arrays = {name: np.stack([getattr(t, name) for t in tracked]) if tracked else getattr(empty, name)
              for name in ("keypoints", "world", "scores", "track_ids")}  # (N, M, ...) each
    order = rank_slots(arrays["keypoints"], arrays["track_ids"])  # (N, M)
    slotted = {name: np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), axis=1)
               for name, a in arrays.items()}
    return PoseCache(**slotted, frame_indices=np.asarray(indices, np.int64), backend=pose.backend,
                     model=model_name(pose.model), layout=layout, **stamp)


def process_video(video: Path, rel: str, config: ExtractConfig) -> VideoResult:
    """Skip, extract or fail one video; never raises for a bad video (the reason goes in the report)."""
    path = cache_path_for(video)
    if not config.force:
        cache = load_fresh(video, model=config.pose.model, every=config.every, persons=config.pose.persons)
        if cache is not None:
            return _result(rel, "skipped", cache, "up to date")
    remove_stale_temps(path)
    try:
        expected = probe(video).num_frames
        cache = extract_video(video, every=config.every, pose=config.pose)
        save_cache(cache, path)
    except (VideoReadError, OSError) as exc:
        return VideoResult(rel, "failed", 0, 0.0, str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. MediaPipe rejecting a frame: report it, finish the others
        return VideoResult(rel, "failed", 0, 0.0, f"{type(exc).__name__}: {exc}")
    reason = ""
    if cache.num_frames < expected:
        reason = f"decoded {cache.num_frames} of the {expected} frames the container announces (truncated?)"
    return _result(rel, "extracted", cache, reason)


def _result(rel: str, status: Status, cache: PoseCache, reason: str) -> VideoResult:
    counts = cache.person_counts  # (N,)
    return VideoResult(rel, status, len(cache.frame_indices), cache.detected_fraction, reason,
                       frames_1plus=int((counts >= 1).sum()), frames_2plus=int((counts >= 2).sum()))


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
        with contextlib.suppress(OSError):  # cleanup never hides the first error
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
                     "person_frames": {"1plus": sum(r.frames_1plus for r in ordered),
                                       "2plus": sum(r.frames_2plus for r in ordered)},
                     "videos": [asdict(r) for r in ordered]}, report_path)
    return report
