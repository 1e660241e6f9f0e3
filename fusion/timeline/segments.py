"""Per-class score curves over time → action segments (the detection step of ``twostream timeline``).

A curve is sampled at window centres ``times`` (seconds, increasing, a constant hop apart) with class
probabilities ``probs`` (N, C). After a moving average over ``smooth`` samples, each sample gets the most
probable class when that probability reaches ``min_score`` and *background* ("no action") otherwise — or when that class is the
background class (``SegmentConfig.background_label``) a model trained with ``trim --background`` has. Per
class, contiguous stretches of its samples become segments, stretches separated by at most ``max_gap``
seconds merge into one, segments shorter than ``min_duration`` seconds are dropped, and each is scored by the
mean probability of its class over the samples it spans. A sample stands for ``hop`` seconds around its centre,
so a stretch of samples i..j covers ``[times[i] - hop / 2, times[j] + hop / 2]``, clipped to the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from twostream.fusion.timeline.detection import Detection

BACKGROUND = -1
"""The label index of a sample where no class is confident."""


@dataclass(frozen=True)
class SegmentConfig:
    """How score curves become segments (one field per ``timeline`` flag)."""

    min_score: float = 0.5
    """A sample is background unless its most probable class reaches this probability."""
    smooth: int = 3
    """Moving-average length over samples (1 = no smoothing)."""
    max_gap: float = 1.0
    """Stretches of one class at most this many seconds apart merge into one segment."""
    min_duration: float = 0.5
    """Segments shorter than this many seconds are dropped."""
    background_label: str = "background"
    """A class of this name (a model trained on ``trim --background`` clips) means no action: its samples are
    background and it gets no segments."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be a probability in [0, 1], got {self.min_score}")
        if self.smooth < 1:
            raise ValueError(f"smooth must be >= 1 sample (1 = none), got {self.smooth}")
        if self.max_gap < 0 or self.min_duration < 0:
            raise ValueError(f"max_gap ({self.max_gap}) and min_duration ({self.min_duration}) must be >= 0 s")


def smooth_scores(probs: np.ndarray, length: int) -> np.ndarray:
    """Centred moving average of (N, C) probabilities over ``length`` samples (edges repeat the end values)."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs if length <= 1 or len(probs) == 0 else uniform_filter1d(probs, length, axis=0, mode="nearest")


def frame_labels(probs: np.ndarray, min_score: float) -> np.ndarray:
    """(N,) the most probable class of each sample, or ``BACKGROUND`` when it is below ``min_score`` or zero
    (an all-zero row marks a sample with nobody in view)."""
    if len(probs) == 0:
        return np.zeros(0, np.int64)
    best = probs.argmax(1)  # (N,)
    top = probs[np.arange(len(probs)), best]  # (N,)
    return np.where((top >= min_score) & (top > 0), best, BACKGROUND)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index of every run of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))  # starts at even positions, ends (exclusive) at odd
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def extract_segments(times: np.ndarray, probs: np.ndarray, classes: Sequence[str], *, hop: float,
                     duration: float, video: str = "", config: SegmentConfig = SegmentConfig()) -> list[Detection]:
    """Segments of one video from its score curves (see the module docstring), highest score first.

    ``times`` (N,) window centres in seconds, ``probs`` (N, C) class probabilities, ``duration`` the video's
    length in seconds.
    """
    times, probs = np.asarray(times, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(times), len(classes)):
        raise ValueError(f"probs must be (N, C) = ({len(times)}, {len(classes)}), got {probs.shape}")
    if hop <= 0:
        raise ValueError(f"hop must be > 0 seconds, got {hop}")
    smoothed = smooth_scores(probs, config.smooth)
    labels = frame_labels(smoothed, config.min_score)
    out = []
    for c, name in enumerate(classes):
        if name == config.background_label:
            continue
        merged: list[list[int]] = []
        for first, last in _runs(labels == c):
            if merged and times[first] - times[merged[-1][1]] - hop <= config.max_gap + 1e-9:
                merged[-1][1] = last
            else:
                merged.append([first, last])
        for first, last in merged:
            start, end = max(0.0, times[first] - hop / 2), min(duration, times[last] + hop / 2)
            if end - start >= config.min_duration and end > start:
                out.append(Detection(video, name, float(start), float(end),
                                     float(smoothed[first:last + 1, c].mean())))
    return sorted(out, key=lambda d: -d.score)
