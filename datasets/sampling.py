"""Which frames make a clip, shared by the RGB and keypoint paths, and the run's record of it (``Sampling``).

Two samplings. ``segment`` (TSN): the video is cut into ``clip_len`` equal segments and one frame is taken from
each, the centre for evaluation, a random position for training; a video shorter than the clip repeats frames
evenly, and the clip's time scale is the video's length. ``dense`` (mmaction2's ``SampleFrames``): ``clip_len``
frames every ``frame_interval`` frames, centred for evaluation; for training at a random start, each pick
jittered within its K frames (segment sampling's jitter, over a clip of fixed length); a video shorter than the
clip loops (mmaction2's default ``out_of_bound_opt="loop"``). Dense sampling keeps the real time
between two picks the same in every clip, so a velocity means the same speed in every clip; segment sampling
does not (a 1 s and a 4 s video both give ``clip_len`` picks). ``frame_interval=None`` (the keypoint streams'
default) is resolved from the training videos: the largest K whose clip fits in the median training video, so
that a video of the median length fills a live window.

``Sampling`` is what a run records of it (mode, K, the training videos' fps and, for segment, their spans in
seconds), carried by ``streams.base.InputSpec.sampling``: training, evaluation, ``predict``, the live demo,
ONNX exports and the timeline all read the time scale from there. ``Sampling.live_window`` turns it into the
frames a live buffer hands the model at a source's fps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, NamedTuple

import numpy as np

SAMPLINGS = ("segment", "dense")
SPAN_QUANTILES = (0, 10, 25, 50, 75, 90, 100)
"""Percentiles at which ``Sampling.span_s`` records the training videos' spans."""


def _check(num_frames: int, clip_len: int) -> None:
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}: the video has no frames")
    if clip_len < 1:
        raise ValueError(f"clip_len must be >= 1, got {clip_len}")


def _pick(num_frames: int, clip_len: int, offsets: np.ndarray) -> np.ndarray:
    """Frame at fraction ``offsets`` in [0, 1) of each of ``clip_len`` equal segments; (..., clip_len) int64."""
    edges = np.linspace(0.0, num_frames, clip_len + 1)  # (clip_len + 1,)
    starts, widths = edges[:-1], np.diff(edges)  # (clip_len,) each
    picked = np.floor(starts + offsets * widths).astype(np.int64)
    return np.clip(picked, 0, num_frames - 1)


def uniform_indices(num_frames: int, clip_len: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``clip_len`` non-decreasing frame indices in ``[0, num_frames)`` spread over the whole video, (clip_len,).

    ``rng=None``: the centre of each segment (deterministic, for evaluation). A ``np.random.Generator``: a random
    position inside each segment (temporal jitter for training). The global NumPy RNG is never used.
    """
    _check(num_frames, clip_len)
    offsets = np.full(clip_len, 0.5) if rng is None else rng.random(clip_len)
    return _pick(num_frames, clip_len, offsets)


def multi_clip_indices(num_frames: int, clip_len: int, num_clips: int) -> np.ndarray:
    """``num_clips`` deterministic clips for test-time averaging, (num_clips, clip_len) int64.

    Clip ``k`` takes the frame at fraction ``(k + 0.5) / num_clips`` of every segment, so each clip spans the
    whole video like a training clip and ``num_clips=1`` equals ``uniform_indices(num_frames, clip_len)``.
    """
    _check(num_frames, clip_len)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    offsets = (np.arange(num_clips) + 0.5) / num_clips  # (num_clips,)
    return _pick(num_frames, clip_len, offsets[:, None])  # (num_clips, clip_len)


def dense_indices(num_frames: int, clip_len: int, interval: int,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """``clip_len`` frames every ``interval`` frames (mmaction2's ``SampleFrames``), (clip_len,) int64.

    The clip spans ``(clip_len - 1) * interval + 1`` frames. ``rng=None``: the clip centred in the video
    (evaluation; equals ``dense_clip_indices(..., num_clips=1)[0]``); a generator: a random start, and pick ``i``
    at a random one of the ``interval`` frames from ``start + i * interval`` (training: without this jitter the
    cartoon quickstart's pose stream saw 4 distinct clips of each video and tested at 0.79, with it 0.93; on
    CMU mocap it changed nothing, 0.900 → 0.902 cross-subject; one run each).
    A video shorter than the span loops (frame ``i`` is frame ``i mod num_frames``): a repeated last frame would
    read as the person stopping, and tell the model how long the video was.
    """
    _check(num_frames, clip_len)
    if interval < 1:
        raise ValueError(f"frame interval must be >= 1, got {interval}")
    if rng is None:
        free = max(num_frames - (clip_len - 1) * interval - 1, 0)  # start positions beyond the first
        return np.mod((free + 1) // 2 + interval * np.arange(clip_len), num_frames).astype(np.int64)
    free = max(num_frames - clip_len * interval, 0)  # the jittered picks may reach K - 1 frames further
    picks = int(rng.integers(0, free + 1)) + interval * np.arange(clip_len) + rng.integers(0, interval, clip_len)
    return np.mod(picks, num_frames).astype(np.int64)


def dense_clip_indices(num_frames: int, clip_len: int, interval: int, num_clips: int) -> np.ndarray:
    """``num_clips`` dense clips with evenly spread starts for test-time averaging, (num_clips, clip_len) int64."""
    _check(num_frames, clip_len)
    if interval < 1 or num_clips < 1:
        raise ValueError(f"frame interval and num_clips must be >= 1, got {interval}, {num_clips}")
    free = max(num_frames - (clip_len - 1) * interval - 1, 0)
    starts = np.floor((np.arange(num_clips) + 0.5) * (free + 1) / num_clips).astype(np.int64)  # (num_clips,)
    return np.mod(starts[:, None] + interval * np.arange(clip_len), num_frames)


class LiveWindow(NamedTuple):
    """What a live buffer keeps for one stream: the last ``length`` frames, of which the model gets those at
    ``offsets`` (oldest = 0, ascending, (clip_len,) int64)."""

    length: int
    offsets: np.ndarray

    @property
    def step(self) -> int:
        """Frames between two picks (the window's picks are evenly spaced)."""
        return int(self.offsets[1] - self.offsets[0]) if len(self.offsets) > 1 else 1


@dataclass(frozen=True)
class Sampling:
    """A run's time scale: how its clips were picked, and over how many seconds of video."""

    mode: str = "segment"
    """``"segment"`` (T frames spread over the whole video) or ``"dense"`` (T frames every ``frame_interval``)."""
    frame_interval: int | None = 1
    """Dense: K, frames between two picks at the training videos' fps; ``None``: not chosen yet, ``measured``
    takes the largest K whose clip fits in the median training video. Ignored by segment sampling."""
    fps: float | None = None
    """Median frame rate of the training videos; ``None`` when unknown (skeleton pickles, older runs)."""
    span_s: tuple[float, ...] | None = None
    """Segment: the training videos' lengths in seconds (the time a clip spans) at ``SPAN_QUANTILES``;
    ``None`` when unknown or for dense sampling."""

    def __post_init__(self) -> None:
        if self.mode not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.mode!r}")
        if self.frame_interval is not None and self.frame_interval < 1:
            raise ValueError(f"--frame-interval must be >= 1, got {self.frame_interval}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"sampling fps must be > 0, got {self.fps}")

    def indices(self, num_frames: int, clip_len: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """One clip's frame indices, (clip_len,): deterministic with ``rng=None``, jittered with a generator."""
        if self.mode == "dense":
            return dense_indices(num_frames, clip_len, self.interval, rng)
        return uniform_indices(num_frames, clip_len, rng)

    def clips(self, num_frames: int, clip_len: int, num_clips: int) -> np.ndarray:
        """``num_clips`` deterministic clips for test-time averaging, (num_clips, clip_len)."""
        if self.mode == "dense":
            return dense_clip_indices(num_frames, clip_len, self.interval, num_clips)
        return multi_clip_indices(num_frames, clip_len, num_clips)

    @property
    def interval(self) -> int:
        """Dense K; a ``ValueError`` while it is still to be measured on the training videos."""
        if self.frame_interval is None:
            raise ValueError("dense sampling with an automatic --frame-interval has no K until it is measured on "
                             "the training videos (Sampling.measured); a trained run records its K")
        return self.frame_interval

    @property
    def median_span_s(self) -> float | None:
        return None if self.span_s is None else float(self.span_s[SPAN_QUANTILES.index(50)])

    def clip_seconds(self, clip_len: int) -> float | None:
        """Seconds of video a training clip covers (first pick to last); ``None`` when unknown."""
        if self.mode == "dense":
            return None if self.fps is None else (clip_len - 1) * self.interval / self.fps
        span = self.median_span_s
        return None if span is None else span * (clip_len - 1) / clip_len

    def live_window(self, clip_len: int, fps: float | None, step: int | None = None) -> LiveWindow:
        """The live buffer for a source at ``fps`` (``None``: the training fps) that shows the model what
        training showed it: dense → ``clip_len`` frames every K frames converted to the source's fps; segment →
        the evaluation picks (segment centres) over the last ``median_span_s`` seconds, rounded to whole frames
        per segment; an unknown span → the last ``clip_len`` frames. ``step`` (``--frame-step``) overrides:
        ``clip_len`` frames every ``step``.
        """
        if step is not None:
            if step < 1:
                raise ValueError(f"--frame-step must be >= 1, got {step}")
            return LiveWindow((clip_len - 1) * step + 1, step * np.arange(clip_len, dtype=np.int64))
        rate = fps if fps else self.fps
        scale = rate / self.fps if rate and self.fps else 1.0  # source frames per training frame
        if self.mode == "dense":
            k = max(1, round(self.interval * scale))
            return LiveWindow((clip_len - 1) * k + 1, k * np.arange(clip_len, dtype=np.int64))
        if self.span_s is None or not rate:
            return LiveWindow(clip_len, np.arange(clip_len, dtype=np.int64))
        per_segment = max(1, round(self.median_span_s * rate / clip_len))
        length = per_segment * clip_len
        return LiveWindow(length, uniform_indices(length, clip_len))

    def short_picks(self, num_frames: int, clip_len: int, fps: float | None, step: int | None = None) -> np.ndarray:
        """The picks (clip_len,) in a source of ``num_frames`` frames at ``fps`` that ended before its
        ``live_window`` filled: what evaluation picks in a video that short — dense (or a ``step`` override) every
        K-th frame, K as ``live_window`` converts it, looping; segment spread over all of it."""
        if step is not None or self.mode == "dense":
            return dense_indices(num_frames, clip_len, self.live_window(clip_len, fps, step).step)
        return uniform_indices(num_frames, clip_len)

    def measured(self, videos: Iterable[tuple[int, float | None]], clip_len: int) -> Sampling:
        """This sampling fitted to the training videos' ``(num_frames, fps)`` (fps ``None`` when unknown): ``fps``
        and (segment) ``span_s`` from the videos with a frame rate, and an automatic dense K (``frame_interval``
        None) as the largest whose ``clip_len``-frame clip fits in the median video (at least 1)."""
        videos = [(n, f) for n, f in videos if n > 0]
        fitted = self
        if self.mode == "dense" and self.frame_interval is None:
            median = float(np.median([n for n, _ in videos])) if videos else 1.0
            k = max(1, math.floor((median - 1) / (clip_len - 1))) if clip_len > 1 else 1
            fitted = replace(fitted, frame_interval=k)
        known = [(n, f) for n, f in videos if f and f > 0]
        if not known:
            return fitted
        fps = float(np.median([f for _, f in known]))
        spans = None
        if self.mode == "segment":
            spans = tuple(round(float(v), 4) for v in np.percentile([n / f for n, f in known], SPAN_QUANTILES))
        return replace(fitted, fps=round(fps, 4), span_s=spans)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any] | None) -> Sampling:
        """The record as ``to_dict`` wrote it; ``None`` or ``{}`` (a run older than the record) → segment, unknown
        span (the live demo then keeps its old behaviour: the last ``clip_len`` frames)."""
        record = dict(record or {})
        if record.get("span_s") is not None:
            record["span_s"] = tuple(float(v) for v in record["span_s"])
        unknown = sorted(set(record) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown sampling fields {unknown}; this twostream knows "
                             f"{sorted(cls.__dataclass_fields__)}")
        return cls(**record)
