"""``twostream timeline`` as a library: score a video's windows, turn the curves into segments, write the
ActivityNet result JSON, ``<id>.timeline.png`` and (optionally) ``<id>.timeline.mp4``.

``segments.json`` is ActivityNet's result format, ``{"version", "results": {id: [{"label", "score", "segment":
[start_s, end_s]}]}, "external_data"}``, from the run's (fused) scores; a fused run also gets
``segments.rgb.json`` and ``segments.pose.json`` from each stream alone, so that ``evaluate-detection`` can
compare them on the same windows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from twostream.fusion.run import RunPredictor
from twostream.fusion.timeline.detection import Detection, ground_truth_from, read_json
from twostream.fusion.timeline.render import plot_timeline, write_annotated_video
from twostream.fusion.timeline.scoring import MIN_PERSON, Timeline, score_video, training_span
from twostream.fusion.timeline.segments import SegmentConfig, extract_segments
from twostream.streams.checkpoint import write_text

RESULTS_VERSION = "twostream-timeline-1"


@dataclass(frozen=True)
class TimelineConfig:
    """One field per ``timeline`` flag."""

    hop: float = 0.5
    """Seconds between window centres."""
    window: float | None = None
    """Window span in seconds; None: the run's time scale (``scoring.training_span``)."""
    batch_size: int = 16
    """Windows per forward pass."""
    reuse_features: bool = True
    """Frame-wise RGB streams run their backbone once per frame, not per window (False: the clip path)."""
    segments: SegmentConfig = field(default_factory=SegmentConfig)

    def __post_init__(self) -> None:
        if self.hop <= 0:
            raise ValueError(f"--hop must be > 0 seconds, got {self.hop}")
        if self.window is not None and self.window <= 0:
            raise ValueError(f"--window must be > 0 seconds, got {self.window}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class VideoDetections:
    video_id: str
    timeline: Timeline
    segments: dict[str, list[Detection]]
    """``"fused"`` (the run's answer) and, for a fused run, ``"rgb"`` and ``"pose"`` alone; best first."""
    seconds: float
    """Wall time spent on the video (scoring, segments, pictures)."""


def resolve_spans(run_dir: str | Path, predictor: RunPredictor, window: float | None) -> dict[str, float | None]:
    """Window span in seconds for each input key of the run: ``window`` when given, else None (the stream's
    sampling record) where the run records its time scale, else the median length of its training videos."""
    if window is not None:
        return {key: window for key in predictor.specs}
    spans: dict[str, float | None] = {}
    for key, spec in predictor.specs.items():
        sampling = getattr(spec, "sampling", None)
        known = sampling is not None and (sampling.mode == "dense" or getattr(sampling, "span_s", None) is not None)
        spans[key] = None if known else training_span(run_dir)
    return spans


def open_ground_truth(path: str | Path) -> dict[str, list[Detection]]:
    """Ground-truth segments by video id from an ActivityNet annotation JSON (all subsets)."""
    by_video: dict[str, list[Detection]] = {}
    ground = ground_truth_from(read_json(path), source=str(path))
    for video in ground.videos:
        by_video[video] = []
    for g in ground.segments:
        by_video[g.video].append(g)
    return by_video


def video_id(path: Path, known: Mapping[str, object] | None = None) -> str:
    """The id of a video in the results: its stem, without ActivityNet's ``v_`` prefix when that matches."""
    stem = path.stem
    if known is not None and stem not in known and stem.startswith("v_") and stem[2:] in known:
        return stem[2:]
    return stem


def video_ids(paths: Sequence[Path], known: Mapping[str, object] | None = None) -> list[str]:
    """``video_id`` of each path, unique: videos whose stems collide (``a.mp4``, ``a.avi``) keep their file
    names, and a name seen again gets ``~2``, ``~3``, … (their pictures and results would overwrite each other)."""
    ids = [video_id(Path(p), known) for p in paths]
    ids = [Path(p).name if ids.count(i) > 1 else i for p, i in zip(paths, ids)]
    seen: dict[str, int] = {}
    unique = []
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
        unique.append(i if seen[i] == 1 else f"{i}~{seen[i]}")
    return unique


def _curves(timeline: Timeline, classes: Sequence[str]) -> dict[str, np.ndarray]:
    curves = {"fused": timeline.fused}
    if len(timeline.per_stream) > 1:
        for role, probs in timeline.per_stream.items():
            curves[role] = probs.astype(np.float64).copy()
            if role == "pose" and timeline.detected is not None:
                curves[role][timeline.detected < MIN_PERSON] = 0.0
    return curves


def detect_video(predictor: RunPredictor, path: str | Path, spans: Mapping[str, float], cfg: TimelineConfig,
                 out: str | Path, *, gt: Mapping[str, list[Detection]] | None = None, annotate: bool = False,
                 on_frame: Callable[[int, int], None] | None = None, vid: str | None = None) -> VideoDetections:
    """Score ``path``, extract its segments, write ``out/<id>.timeline.png`` (and ``.mp4`` when ``annotate``);
    ``vid`` the video's id (default ``video_id``; ``video_ids`` for a list of videos)."""
    started = time.perf_counter()
    path, out = Path(path), Path(out)
    vid = vid or video_id(path, gt)
    timeline = score_video(predictor, path, spans=spans, hop=cfg.hop, batch_size=cfg.batch_size, on_frame=on_frame,
                           reuse_features=cfg.reuse_features)
    segments = {name: extract_segments(timeline.times, probs, predictor.classes, hop=cfg.hop,
                                       duration=timeline.duration, video=vid, config=cfg.segments)
                for name, probs in _curves(timeline, predictor.classes).items()}
    out.mkdir(parents=True, exist_ok=True)
    plot_timeline(timeline, predictor.classes, segments["fused"], out / f"{vid}.timeline.png",
                  None if gt is None else gt.get(vid, []), title=f"{vid}: fused probability per class")
    if annotate:
        write_annotated_video(timeline, segments["fused"], out / f"{vid}.timeline.mp4")
    return VideoDetections(vid, timeline, segments, time.perf_counter() - started)


def results_json(results: Sequence[VideoDetections], name: str = "fused") -> dict:
    """ActivityNet's result format for the ``name`` curves of every video."""
    return {"version": RESULTS_VERSION,
            "results": {r.video_id: [{"label": d.label, "score": round(d.score, 5),
                                      "segment": [round(d.start, 3), round(d.end, 3)]} for d in r.segments[name]]
                        for r in results},
            "external_data": {}}


def write_results(results: Sequence[VideoDetections], out: str | Path) -> list[Path]:
    """``segments.json`` (fused) and, for fused runs, ``segments.rgb.json`` / ``segments.pose.json``."""
    out = Path(out)
    paths = []
    for name in results[0].segments:
        path = out / ("segments.json" if name == "fused" else f"segments.{name}.json")
        write_text(path, json.dumps(results_json(results, name), indent=1))
        paths.append(path)
    return paths
