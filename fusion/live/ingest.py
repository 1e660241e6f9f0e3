"""Ingest, the live engine's first stage: each frame through pose + tracking and the RGB stream's preprocessing
into the ring buffers, whose windows come from the run's time scale (``Sampling.live_window``).

Pose is the costliest step per frame (MediaPipe, about a core at 30 fps on a small CPU), and its estimators
follow people from frame to frame, so one estimator works one frame at a time. ``PoseLanes`` runs several
estimators side by side, each on its own thread, and deals the frames to them in turn: pose on frame n + 1 starts
while frame n's is still running, and each estimator still sees its frames in order (every ``lanes``-th frame of
the source). Tracking, the buffers and everything after see the frames in order again (``Ingest.push``).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, NamedTuple

import numpy as np

from twostream.errors import CheckpointError
from twostream.fusion.live.buffers import BufferSpec, DualFrameBuffer, Snapshot
from twostream.fusion.live.capture import Frame
from twostream.fusion.live.records import LiveConfig
from twostream.pose.backends import PoseConfig, open_estimator
from twostream.pose.skeleton import MEDIAPIPE_33


def _buffer_specs(specs: dict[str, Any], fps: float | None, step: int | None,
                  frame_wise: frozenset[str] = frozenset(),
                  persons: int = 1) -> tuple[BufferSpec | None, BufferSpec | None]:
    """Each stream's window from its run's time scale (``InputSpec.sampling.live_window`` at the source's
    ``fps``; ``step`` overrides it): preprocessed (3, S, S) pixels, raw MediaPipe-33 (M, 33, 4) landmarks of
    ``persons`` tracked slots (the predictor reduces them to the pose model's layout, as it does offline).
    Streams in ``frame_wise`` slide on their sampling grid, so that each sampled frame's features are computed
    once."""
    video, keypoints = specs.get("video"), specs.get("keypoints")
    if video is None and keypoints is None:
        raise CheckpointError(f"the run has no 'video' or 'keypoints' stream (specs: {sorted(specs)})")

    def spec(stream, item_shape: tuple[int, ...]) -> BufferSpec | None:
        if stream is None:
            return None
        window = stream.sampling.live_window(stream.clip_len, fps, step)
        return BufferSpec(item_shape, tuple(int(o) for o in window.offsets), window.length,
                          grid=stream.key in frame_wise)

    return (spec(video, (3, video.size, video.size) if video else ()),
            spec(keypoints, (persons, MEDIAPIPE_33.num_joints, 4)))


class PoseLanes:
    """``lanes`` pose estimators, each on its own thread; ``submit`` deals frames to them in turn."""

    def __init__(self, config: PoseConfig, lanes: int):
        self._estimators, self._threads = [], []
        try:
            for lane in range(lanes):
                self._estimators.append(open_estimator(config))  # a missing model is one line, before any thread
                self._threads.append(ThreadPoolExecutor(1, thread_name_prefix=f"twostream-pose{lane}"))
        except BaseException:
            self.close()
            raise
        self._next = 0

    def submit(self, frame_rgb: np.ndarray, timestamp_ms: int) -> Future:
        """Pose of one RGB frame on the next lane; call in frame order (each lane's frames stay in order)."""
        lane, self._next = self._next, (self._next + 1) % len(self._estimators)
        return self._threads[lane].submit(self._estimators[lane].process, frame_rgb, timestamp_ms)

    def close(self) -> None:
        for thread in self._threads:
            thread.shutdown(wait=True, cancel_futures=True)
        for estimator in self._estimators:
            estimator.close()

    def __enter__(self) -> PoseLanes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Posed(NamedTuple):
    """A frame on its way through ingest: its RGB image and its pose, running or done (``None``: no pose
    stream)."""

    frame: Frame
    rgb: np.ndarray  # (H, W, 3) uint8
    persons: Future | None  # of ``Persons``
    started: float  # perf_counter when dispatch took it (``Ingest.submit``)


class Ingest:
    """Pose + preprocessing of each frame into the buffers of a predictor's streams."""

    def __init__(self, specs: dict[str, Any], config: LiveConfig, frame_wise: frozenset[str] = frozenset()):
        self.specs, self.config, self.frame_wise = specs, config, frame_wise
        self.video_spec, self.keypoint_spec = specs.get("video"), specs.get("keypoints")
        if self.keypoint_spec is not None:  # fail now, not in the worker, if MediaPipe-33 cannot feed the model
            from twostream.streams.keypoint_data import to_layout

            to_layout(np.zeros((MEDIAPIPE_33.num_joints, 4), np.float32), self.keypoint_spec.layout)
        self.track_ids = np.full(config.pose.persons, -1)
        self._pose: PoseLanes | None = None
        self._tracker = None
        self.configure(None)

    def configure(self, fps: float | None) -> None:
        """Size the buffers for a source at ``fps`` frames/s (``None``: the run's training fps)."""
        self.fps = fps
        self.buffer = DualFrameBuffer(*_buffer_specs(self.specs, fps, self.config.frame_step, self.frame_wise,
                                                     self.config.pose.persons))

    def last_snapshot(self) -> Snapshot:
        """The windows to predict on when the source has ended: the full ones, or — a source shorter than a
        window — what evaluation picks in a video that short (``Sampling.short_picks``)."""
        if self.buffer.ready:
            return self.buffer.snapshot()
        return self.buffer.snapshot_short(lambda key, n: self.specs[key].sampling.short_picks(
            n, self.specs[key].clip_len, self.fps, self.config.frame_step))

    def window_seconds(self) -> dict[str, float]:
        """Seconds each stream's window spans, first pick to last, at the source's fps (or the run's)."""
        out = {}
        for key, stream, buf in (("rgb", self.video_spec, self.buffer.video_spec),
                                 ("pose", self.keypoint_spec, self.buffer.keypoint_spec)):
            fps = self.fps or (stream.sampling.fps if stream is not None else None)
            if buf is not None and fps:
                out[key] = (buf.offsets[-1] - buf.offsets[0]) / fps
        return out

    def pose_estimator(self, lanes: int = 1):
        """A context that holds ``lanes`` fresh pose estimators and a fresh tracker for one run (nothing without a
        pose stream)."""
        if self.keypoint_spec is None:
            return nullcontext()
        from twostream.pose.tracking import PersonTracker

        self._tracker = PersonTracker(self.config.pose.persons)  # fresh: tracking per run
        self._pose = PoseLanes(self.config.pose, lanes)
        return self._pose

    def submit(self, frame: Frame) -> Posed:
        """Start one frame's pose (on the next lane); call in frame order, from one thread."""
        import cv2

        started = time.perf_counter()
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)  # (H, W, 3)
        # the frame count as clock (30 fps), as offline: the same frames give the same landmarks
        persons = (self._pose.submit(rgb, round(frame.index * 1000 / 30)) if self.keypoint_spec is not None
                   else None)
        return Posed(frame, rgb, persons, started)

    def push(self, posed: Posed) -> np.ndarray | None:
        """One submitted frame (waiting for its pose) through tracking and preprocessing into the buffers; call in
        frame order. Returns its tracked persons' (M, 33, 4) landmarks (slot 0 first; an empty slot all zeros) or
        None without a pose stream."""
        frame, pixels, landmarks = posed.frame, None, None
        if self.video_spec is not None and self.buffer.wants("video", frame.index):  # a frame it may pick
            from twostream.datasets.transforms import frames_to_tensor

            s = self.video_spec
            pixels = np.asarray(frames_to_tensor(posed.rgb[None], s.size, s.mean, s.std)[0])  # (3, S, S)
        if posed.persons is not None:
            tracked = self._tracker.update(posed.persons.result())
            landmarks, self.track_ids = tracked.keypoints, tracked.track_ids  # (M, V, 4), (M,)
        self.buffer.push(frame.index, frame.timestamp, video=pixels, keypoints=landmarks)
        return landmarks
