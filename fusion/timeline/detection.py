"""Temporal action detection metric, ActivityNet's protocol: mAP at temporal IoU 0.5, 0.55, …, 0.95.

Ground truth is ActivityNet's annotation JSON, ``{"database": {id: {"duration", "subset", "annotations":
[{"segment": [start_s, end_s], "label"}]}}}``; detections are its result JSON, ``{"results": {id: [{"label",
"score", "segment": [start_s, end_s]}]}}``. Per class and threshold, as ActivityNet's ``eval_detection.py``:
detections of that class over all videos are ranked by score; each takes the unmatched ground-truth segment of
its video with the highest tIoU if that tIoU reaches the threshold (a true positive), else it is a false positive
— one match per ground truth, so a duplicate is a false positive. AP is the area under the interpolated
precision-recall curve (precision made monotone from the right, summed over the recall steps). mAP averages AP
over the classes present in the ground truth; "average mAP" averages mAP over the thresholds.

Two choices the reference code leaves implicit are made explicit here: equal scores keep the order of the
results file (a stable sort), and detections of videos that the evaluated ground truth does not list, or of
labels it never uses, are left out and counted (``ignored_videos`` / ``ignored_labels``) instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

TIOU_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())


@dataclass(frozen=True)
class Detection:
    """One temporal segment of one video: a ground-truth annotation (score 1) or a detection."""

    video: str
    label: str
    start: float
    """Seconds from the start of the video."""
    end: float
    score: float = 1.0


@dataclass(frozen=True)
class DetectionMetrics:
    """AP per class and threshold, and the summaries ``evaluate-detection`` prints and saves."""

    thresholds: tuple[float, ...]
    classes: tuple[str, ...]
    """Classes of the ground truth, sorted; the rows of ``ap``."""
    ap: np.ndarray
    """(C, K) average precision of class c at threshold k."""
    num_ground_truth: dict[str, int]
    num_detections: dict[str, int]
    ignored_videos: int = 0
    """Detections on videos the ground truth does not list (left out)."""
    ignored_labels: dict[str, int] = field(default_factory=dict)
    """Detections of labels the ground truth never uses (left out), by label."""

    @property
    def map_per_threshold(self) -> np.ndarray:
        """(K,) mean AP over classes at each threshold."""
        return self.ap.mean(0) if len(self.classes) else np.zeros(len(self.thresholds))

    @property
    def average_map(self) -> float:
        """The mean of mAP over the thresholds (ActivityNet's headline figure)."""
        return float(self.map_per_threshold.mean())

    def map_at(self, threshold: float) -> float:
        return float(self.map_per_threshold[self.thresholds.index(threshold)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": 1, "protocol": "activitynet", "tiou_thresholds": list(self.thresholds),
            "average_map": self.average_map,
            "map": {f"{t:.2f}": float(m) for t, m in zip(self.thresholds, self.map_per_threshold)},
            "per_class": {c: {"average_ap": float(self.ap[i].mean()), "num_ground_truth": self.num_ground_truth[c],
                              "num_detections": self.num_detections.get(c, 0),
                              "ap": {f"{t:.2f}": float(a) for t, a in zip(self.thresholds, self.ap[i])}}
                          for i, c in enumerate(self.classes)},
            "ignored_videos": self.ignored_videos, "ignored_labels": dict(self.ignored_labels),
        }


def segment_iou(segment: tuple[float, float], candidates: np.ndarray) -> np.ndarray:
    """Temporal IoU of one ``(start, end)`` with each row of ``candidates`` (N, 2); (N,)."""
    inter = (np.minimum(segment[1], candidates[:, 1]) - np.maximum(segment[0], candidates[:, 0])).clip(0)  # (N,)
    union = (candidates[:, 1] - candidates[:, 0]) + (segment[1] - segment[0]) - inter  # (N,)
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=float), where=union > 0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision-recall curve with precision made non-increasing from the right (ActivityNet)."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mprec[steps]))


def average_precision(ground_truth: Sequence[Detection], detections: Sequence[Detection],
                      thresholds: Sequence[float] = TIOU_THRESHOLDS) -> np.ndarray:
    """(K,) AP of one class's ``detections`` against its ``ground_truth`` at each tIoU threshold."""
    if not ground_truth:
        raise ValueError("average_precision needs at least one ground-truth segment of the class")
    if not detections:
        return np.zeros(len(thresholds))
    gt_by_video: dict[str, list[int]] = {}
    for j, g in enumerate(ground_truth):
        gt_by_video.setdefault(g.video, []).append(j)
    bounds = np.array([(g.start, g.end) for g in ground_truth], dtype=float)  # (G, 2)
    order = np.argsort([-d.score for d in detections], kind="stable")
    taken = np.zeros((len(thresholds), len(ground_truth)), bool)
    tp = np.zeros((len(thresholds), len(detections)))
    for rank, i in enumerate(order):
        det = detections[i]
        candidates = np.array(gt_by_video.get(det.video, []), dtype=int)
        if not len(candidates):
            continue
        tiou = segment_iou((det.start, det.end), bounds[candidates])
        by_tiou = candidates[np.argsort(-tiou, kind="stable")]
        tiou_sorted = np.sort(tiou)[::-1]
        for k, threshold in enumerate(thresholds):
            free = ~taken[k, by_tiou] & (tiou_sorted >= threshold)
            if free.any():
                taken[k, by_tiou[np.argmax(free)]] = True
                tp[k, rank] = 1
    tp_cum = np.cumsum(tp, axis=1)  # (K, N)
    precision = tp_cum / np.arange(1, len(detections) + 1)
    recall = tp_cum / len(ground_truth)
    return np.array([interpolated_ap(precision[k], recall[k]) for k in range(len(thresholds))])


def evaluate_detections(ground_truth: Sequence[Detection], detections: Sequence[Detection],
                        thresholds: Sequence[float] = TIOU_THRESHOLDS,
                        videos: Sequence[str] | None = None) -> DetectionMetrics:
    """AP of every ground-truth class at every threshold (see the module docstring for the protocol).

    ``videos``: the evaluated videos (default: those with a ground-truth segment); detections elsewhere are
    left out and counted, detections on a listed video without segments are false positives.
    """
    classes = tuple(sorted({g.label for g in ground_truth}))
    videos = set(videos) if videos is not None else {g.video for g in ground_truth}
    kept = [d for d in detections if d.video in videos]
    ignored_labels: dict[str, int] = {}
    for d in kept:
        if d.label not in classes:
            ignored_labels[d.label] = ignored_labels.get(d.label, 0) + 1
    ap = np.zeros((len(classes), len(thresholds)))
    num_gt, num_det = {}, {}
    for c, label in enumerate(classes):
        gt = [g for g in ground_truth if g.label == label]
        det = [d for d in kept if d.label == label]
        num_gt[label], num_det[label] = len(gt), len(det)
        ap[c] = average_precision(gt, det, thresholds)
    return DetectionMetrics(tuple(thresholds), classes, ap, num_gt, num_det, len(detections) - len(kept),
                            ignored_labels)


def _segment(item: Any, where: str) -> tuple[float, float]:
    try:
        start, end = (float(t) for t in item["segment"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: expected {{'segment': [start, end], 'label': ...}}, got {item!r}") from None
    if not end > start >= 0:
        raise ValueError(f"{where}: segment [{start:g}, {end:g}] must have 0 <= start < end (seconds)")
    return start, end


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or regenerate it") from exc


class GroundTruth(NamedTuple):
    segments: list[Detection]
    videos: list[str]
    """Every evaluated video, with or without segments."""


def ground_truth_from(data: Mapping[str, Any], subset: str | None = None, *, source: str = "ground truth") \
        -> GroundTruth:
    """ActivityNet annotation JSON → segments and videos, keeping videos of ``subset`` (all when None).

    A listed video without annotations still counts: detections on it are false positives.
    """
    database = data.get("database", data) if isinstance(data, Mapping) else None
    if not isinstance(database, Mapping):
        raise ValueError(f"{source} must be {{\"database\": {{id: {{\"annotations\": [...]}}}}}}")
    out, videos = [], []
    for video, entry in database.items():
        if not isinstance(entry, Mapping) or (subset is not None and entry.get("subset") != subset):
            continue
        videos.append(str(video))
        for k, ann in enumerate(entry.get("annotations", [])):
            start, end = _segment(ann, f"{source}, video {video!r}, annotation {k}")
            out.append(Detection(str(video), str(ann["label"]), start, end))
    if not out:
        subsets = sorted({str(e.get("subset")) for e in database.values() if isinstance(e, Mapping)})
        raise ValueError(f"{source} has no annotated segment" + (f" in subset {subset!r} (it has: "
                         f"{', '.join(subsets)})" if subset else "") + "; pick another --subset or file")
    return GroundTruth(out, videos)


def results_from(data: Mapping[str, Any], *, source: str = "results") -> list[Detection]:
    """ActivityNet result JSON ``{"results": {id: [{"label", "score", "segment"}]}}`` → detections."""
    results = data.get("results") if isinstance(data, Mapping) else None
    if not isinstance(results, Mapping):
        raise ValueError(f"{source} must be {{\"results\": {{id: [{{\"label\", \"score\", \"segment\"}}]}}}}, "
                         "as `twostream timeline` writes it")
    out = []
    for video, items in results.items():
        for k, item in enumerate(items):
            where = f"{source}, video {video!r}, detection {k}"
            start, end = _segment(item, where)
            try:
                out.append(Detection(str(video), str(item["label"]), start, end, float(item["score"])))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{where}: needs a 'label' and a numeric 'score', got {item!r}") from None
    return out


def evaluate_files(gt_path: str | Path, results_path: str | Path, *, subset: str | None = None,
                   thresholds: Sequence[float] = TIOU_THRESHOLDS) -> DetectionMetrics:
    """``evaluate_detections`` of two JSON files (see the module docstring for their formats)."""
    ground = ground_truth_from(read_json(gt_path), subset, source=str(gt_path))
    detections = results_from(read_json(results_path), source=str(results_path))
    return evaluate_detections(ground.segments, detections, thresholds, ground.videos)
