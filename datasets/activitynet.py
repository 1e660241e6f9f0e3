"""Trim untrimmed videos into labelled clips from ActivityNet-style temporal annotations.

Input JSON: ``{"database": {"<id>": {"annotations": [{"segment": [start_s, end_s], "label": "..."}], ...}}}``
or the same mapping without the ``"database"`` wrapper. The video of ``<id>`` is ``VIDEO_DIR/<id>.<ext>`` or
``VIDEO_DIR/v_<id>.<ext>``. Output: ``OUT_ROOT/<label>/<id>_<k>.<ext>`` (k = the segment's position in the
video's list), each written atomically, plus ``OUT_ROOT/trim-report.json``. A bad entry is reported and
skipped; it never stops the run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

import cv2

from twostream.datasets.folder import VIDEO_EXTENSIONS
from twostream.datasets.video import probe
from twostream.errors import VideoReadError

REPORT_NAME = "trim-report.json"
REPORT_VERSION = 1
_FOURCC = {"mp4": "mp4v", "avi": "MJPG"}
END_TOLERANCE_S = 0.5
"""Annotated ends often overshoot the real video slightly; up to this much is cut at the last frame."""


@dataclass(frozen=True)
class Segment:
    video_id: str
    index: int
    """Position in the video's annotation list: the ``k`` of ``<id>_<k>.<ext>``."""
    start: float
    """Seconds from the start of the video."""
    end: float
    label: str


@dataclass(frozen=True)
class TrimFailure:
    video_id: str
    segment: int | None
    """Index of the bad segment, ``None`` when the whole video failed (missing, unreadable)."""
    reason: str


@dataclass(frozen=True)
class TrimReport:
    written: tuple[str, ...] = ()
    """Clips written, relative to ``OUT_ROOT``."""
    skipped: tuple[str, ...] = ()
    """Clips already present (kept unless ``overwrite``)."""
    failures: tuple[TrimFailure, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failures


def parse_annotations(data: dict, subsets: Sequence[str] | None = None) -> tuple[list[Segment], list[TrimFailure]]:
    """Segments of every video in an annotation mapping (only videos whose ``"subset"`` is in ``subsets`` when
    given), and the malformed entries (reported, not raised)."""
    database = data.get("database", data) if isinstance(data, dict) else None
    if not isinstance(database, dict):
        raise ValueError("annotation JSON must be an object {\"database\": {\"<id>\": {...}}} or {\"<id>\": {...}}")
    segments, failures = [], []
    for video_id, entry in database.items():
        if subsets is not None and (not isinstance(entry, dict) or entry.get("subset") not in subsets):
            continue
        annotations = entry.get("annotations") if isinstance(entry, dict) else None
        if not isinstance(annotations, list):
            failures.append(TrimFailure(video_id, None, "entry has no 'annotations' list"))
            continue
        for k, ann in enumerate(annotations):
            try:
                start, end = (float(t) for t in ann["segment"])
                label = str(ann["label"]).strip()
            except (KeyError, TypeError, ValueError):
                failures.append(TrimFailure(video_id, k, f"malformed annotation {ann!r}: expected "
                                                          "{'segment': [start, end], 'label': '...'}"))
                continue
            segments.append(Segment(video_id, k, start, end, label))
    return segments, failures


def find_videos(video_dir: Path) -> dict[str, Path]:
    """``{video id: path}`` for every video in ``video_dir``, under both ``<id>`` and, for ``v_<id>``, ``<id>``."""
    index: dict[str, Path] = {}
    for path in sorted(video_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
            index.setdefault(path.stem, path)
            if path.stem.startswith("v_"):
                index.setdefault(path.stem[2:], path)
    return index


def segment_problem(segment: Segment, duration: float) -> str | None:
    """Why ``segment`` cannot be cut from a video of ``duration`` seconds, or ``None`` when it can."""
    where = f"segment [{segment.start:g}, {segment.end:g}] s"
    if segment.start < 0 or segment.end < 0:
        return f"{where} is negative"
    if segment.end <= segment.start:
        return f"{where} ends before it starts"
    if not segment.label:
        return f"{where} has an empty label"
    if segment.start >= duration or segment.end > duration + END_TOLERANCE_S:
        return f"{where} is beyond the video's duration of {duration:.2f} s"
    return None


def _folder_name(label: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", label).strip(" .") or "_"


def _cut(video: Path, jobs: list[tuple[Segment, Path]], fps: float, ext: str) -> list[str | None]:
    """Write each job's frames [round(start·fps), round(end·fps)) in one sequential pass; an error per job."""
    ranges = [(round(s.start * fps), max(round(s.end * fps), round(s.start * fps) + 1)) for s, _ in jobs]
    temps = [out.with_name(f".{out.stem}.partial.{ext}") for _, out in jobs]
    writers: list[cv2.VideoWriter | None] = [None] * len(jobs)
    counts = [0] * len(jobs)
    capture, frame_index = cv2.VideoCapture(str(video)), 0
    try:
        while frame_index < max(stop for _, stop in ranges):
            ok, frame = capture.read()
            if not ok:
                break
            for j, (start, stop) in enumerate(ranges):
                if start <= frame_index < stop:
                    if writers[j] is None:
                        temps[j].parent.mkdir(parents=True, exist_ok=True)
                        writers[j] = cv2.VideoWriter(str(temps[j]), cv2.VideoWriter_fourcc(*_FOURCC[ext]), fps,
                                                     (frame.shape[1], frame.shape[0]))
                    writers[j].write(frame)
                    counts[j] += 1
            frame_index += 1
    finally:
        capture.release()
        for writer in writers:
            if writer is not None:
                writer.release()
    results = []
    for (segment, out), temp, count in zip(jobs, temps, counts):
        if count:
            os.replace(temp, out)  # atomic: a clip is either complete or absent
            results.append(None)
        else:
            temp.unlink(missing_ok=True)
            results.append(f"no frame decoded in segment [{segment.start:g}, {segment.end:g}] s "
                           f"(the video has {frame_index} decodable frames)")
    return results


def background_segments(segments: Sequence[Segment], duration: float, label: str,
                        min_length: float = 1.0, per_video: int | None = None) -> list[Segment]:
    """The stretches of a video no segment covers, at least ``min_length`` seconds long, labelled ``label``;
    their ``index`` continues after the video's annotations. ``per_video`` keeps only that many, the longest
    (in time order), so that "no action" does not outnumber the actions."""
    covered = sorted((max(0.0, s.start), min(duration, s.end)) for s in segments)
    gaps, cursor = [], 0.0
    for start, end in covered + [(duration, duration)]:
        if start - cursor >= min_length:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if per_video is not None:
        gaps = sorted(sorted(gaps, key=lambda g: g[0] - g[1])[:per_video])  # the longest, back in time order
    first = max((s.index for s in segments), default=-1) + 1
    return [Segment(segments[0].video_id, first + k, a, b, label) for k, (a, b) in enumerate(gaps)]


def _trim_one(video: Path, segments: list[Segment], out_root: Path, ext: str, overwrite: bool,
              report: dict[str, list], background: str | None = None, per_video: int | None = None) -> None:
    """Validate and cut the segments of one video (and, with ``background``, the stretches between them),
    appending to ``report``'s lists."""
    try:
        info = probe(video)
    except VideoReadError as exc:
        report["failures"].append(TrimFailure(segments[0].video_id, None, str(exc)))
        return
    if info.fps <= 0:
        report["failures"].append(TrimFailure(segments[0].video_id, None, f"{video} has no frame rate"))
        return
    if background is not None:
        segments = segments + background_segments(segments, info.num_frames / info.fps, background,
                                                   per_video=per_video)
    jobs = []
    for segment in segments:
        problem = segment_problem(segment, info.num_frames / info.fps)
        rel = f"{_folder_name(segment.label)}/{segment.video_id}_{segment.index}.{ext}"
        if problem:
            report["failures"].append(TrimFailure(segment.video_id, segment.index, problem))
        elif (out_root / rel).exists() and not overwrite:
            report["skipped"].append(rel)
        else:
            jobs.append((segment, out_root / rel))
    for (segment, out), error in zip(jobs, _cut(video, jobs, info.fps, ext) if jobs else []):
        if error:
            report["failures"].append(TrimFailure(segment.video_id, segment.index, error))
        else:
            report["written"].append(out.relative_to(out_root).as_posix())


def trim_dataset(annotations: str | Path, video_dir: str | Path, out_root: str | Path, *,
                 ext: Literal["mp4", "avi"] = "mp4", overwrite: bool = False, subsets: Sequence[str] | None = None,
                 background: str | None = None, background_per_video: int | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> TrimReport:
    """Cut every annotated segment into ``out_root/<label>/<id>_<k>.<ext>``; returns and saves the report.

    ``subsets`` keeps only videos of those subsets (e.g. ``("training", "validation")``, so that test videos
    stay unseen). ``background`` also cuts the stretches between a video's segments (>= 1 s) as clips of that
    label, so that a model learns "no action" (``timeline`` treats the class as background);
    ``background_per_video`` keeps the longest N of them per video (None: all). ``progress(done, total, video_id)`` is called after each video. Missing or unreadable videos and bad
    segments are listed in the report (each naming the video id); the run always continues.
    """
    annotations, video_dir, out_root = Path(annotations), Path(video_dir), Path(out_root)
    if ext not in _FOURCC:
        raise ValueError(f"clip format must be one of {sorted(_FOURCC)}, got {ext!r}")
    if not video_dir.is_dir():
        raise NotADirectoryError(f"video folder not found: {video_dir}")
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{annotations} is not valid JSON ({exc}); fix or re-download it") from exc
    segments, failures = parse_annotations(data, subsets)
    if background_per_video is not None and background_per_video < 1:
        raise ValueError(f"--background-per-video must be >= 1, got {background_per_video}")
    if subsets is not None and not segments:
        raise ValueError(f"{annotations} has no segment in subset(s) {', '.join(subsets)}; check --subset")
    by_video: dict[str, list[Segment]] = {}
    for segment in segments:
        by_video.setdefault(segment.video_id, []).append(segment)
    videos = find_videos(video_dir)
    report: dict[str, list] = {"written": [], "skipped": [], "failures": failures}
    for done, (video_id, video_segments) in enumerate(by_video.items(), start=1):
        if video_id in videos:
            _trim_one(videos[video_id], video_segments, out_root, ext, overwrite, report, background,
                      background_per_video)
        else:
            report["failures"].append(TrimFailure(video_id, None, f"no video {video_id}.* or v_{video_id}.* "
                                                                  f"in {video_dir}"))
        if progress is not None:
            progress(done, len(by_video), video_id)
    result = TrimReport(tuple(report["written"]), tuple(report["skipped"]), tuple(report["failures"]))
    save_report(result, out_root / REPORT_NAME, annotations)
    return result


def save_report(report: TrimReport, path: Path, annotations: Path) -> None:
    """Write the report as JSON atomically (temp file, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": REPORT_VERSION, "annotations": str(annotations), **asdict(report)}
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)
