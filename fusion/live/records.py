"""What the live engine (``fusion.live.engine``) takes and gives: the predictor interface it drives, its configuration,
each window's result and the run's counters and recent timings. No torch, no threads: plain records that the CLI,
the sinks and the bench read.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from twostream.pose.backends import PoseConfig


class Predictor(Protocol):
    """What the engine needs of ``fusion.run.RunPredictor`` — the one predictor, over torch or ONNX backends
    (``predict_persons`` and ``frame_wise`` are used when present; tests stand in with ``predict_window``)."""

    classes: list[str]
    specs: dict[str, Any]

    def predict_window(self, video=None, keypoints=None): ...


@dataclass(frozen=True)
class LiveConfig:
    """How the engine schedules work; CLI flags map one to one."""

    stride: int = 8
    """Run inference every ``stride`` source frames (once the buffers are full; dropped frames count)."""
    max_hz: float | None = None
    """At most this many inferences per second (``None``: no cap)."""
    smooth: int = 4
    """Average the fused probabilities of the last ``smooth`` predictions (1 = no smoothing)."""
    frame_step: int | None = None
    """Override the run's time scale: feed each model every ``frame_step``-th frame of the recent past. ``None``:
    each stream's window comes from its run's sampling (``Sampling.live_window``)."""
    deterministic: bool = False
    """Every frame, in order, inference inline: reproducible (file sources only)."""
    max_frames: int | None = None
    """Stop after this many frames (``None``: until the end, ``q`` or Ctrl-C)."""
    worker_nice: int = 0
    """Niceness added to the inference thread (Linux; elsewhere ignored): > 0 lets capture + pose on the frame
    loop win the CPU when the cores are busy, at the cost of later predictions."""
    pose: PoseConfig = PoseConfig()
    """Pose backend, model and persons tracked (the models see slot 0, the main actor)."""
    pose_lanes: int = 2
    """Pose estimators working side by side on successive frames (``fusion.live.ingest.PoseLanes``): with one,
    pose on every frame at 30 fps takes about a core of a small CPU and sets the frame rate; two keep up while the
    other work shares the cores. Each follows every ``pose_lanes``-th frame. ``deterministic`` uses one, as
    offline extraction does."""

    def __post_init__(self) -> None:
        for name in ("stride", "smooth", "frame_step", "pose_lanes"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_hz is not None and self.max_hz <= 0:
            raise ValueError(f"--max-hz must be > 0, got {self.max_hz}")
        if not 0 <= self.worker_nice <= 19:
            raise ValueError(f"worker_nice must be in 0..19, got {self.worker_nice}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {self.max_frames}")


class PersonPrediction(NamedTuple):
    """One tracked person's answer for a window: the pose stream on this person, fused with the scene's RGB."""

    slot: int  # person slot in the keypoint buffer (its colour)
    track_id: int  # the tracker's id (stable while the person stays in view; -1 unknown)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 normalised to the frame, at the window's last frame
    fused: np.ndarray  # (C,) averaged over this person's last ``smooth`` predictions
    per_stream: dict[str, np.ndarray]  # stream name → (C,) this window's probabilities for this person
    detected_fraction: float  # share of the window's frames in which this person was found


class LivePrediction(NamedTuple):
    frame_index: int  # last frame of the window
    first_frame: int  # first frame of the window (the longer of the two streams')
    timestamp: float  # capture time (perf_counter) of the window's last frame
    fused: np.ndarray  # (C,) fused probabilities, averaged over the last ``smooth`` predictions
    fused_raw: np.ndarray  # (C,) this window's fused probabilities
    per_stream: dict[str, np.ndarray]  # stream name → (C,) probabilities for this window
    detected_fraction: float | None  # share of the pose window's frames with a person (None: no pose stream)
    latency_ms: float  # capture of the window's last frame → prediction ready
    persons: tuple[PersonPrediction, ...] = ()  # one per person in view (tracked keypoints); () without pose


STAGES = ("ingest", "infer", "present")
"""The engine's timed stages: pose + preprocessing + buffers, inference on a snapshot, the annotated frame out."""


@dataclass
class LiveStats:
    """Counters and recent timings of a run (bounded: the deques keep the latest samples only)."""

    frames: int = 0  # frames processed and emitted
    dropped: int = 0  # frames captured but overwritten before processing
    predictions: int = 0
    person_frames: int | None = None  # frames where MediaPipe found a person (None: the run has no pose stream)
    skipped_inferences: int = 0  # snapshots overwritten while the worker was busy
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=4096))  # capture → annotated frame out
    frame_times: deque = field(default_factory=lambda: deque(maxlen=60))
    prediction_times: deque = field(default_factory=lambda: deque(maxlen=20))
    stage_ms: dict[str, deque] = field(default_factory=lambda: {stage: deque(maxlen=4096) for stage in STAGES})
    """Wall time of each stage (``STAGES``): per frame for ingest and present, per prediction for infer."""

    @staticmethod
    def _rate(times: deque) -> float:
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    @property
    def fps(self) -> float:
        return self._rate(self.frame_times)

    @property
    def prediction_hz(self) -> float:
        return self._rate(self.prediction_times)

    def latency_percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def stage_percentile(self, stage: str, q: float) -> float:
        """The ``q``-th percentile of ``stage``'s recent wall times in ms (nan before the first)."""
        times = self.stage_ms[stage]
        return float(np.percentile(times, q)) if times else float("nan")
