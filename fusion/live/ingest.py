"""Ingest, the live engine's first stage: each frame through pose + tracking and the RGB stream's preprocessing
into the ring buffers, whose windows come from the run's time scale (``Sampling.live_window``)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np

from twostream.errors import CheckpointError
from twostream.fusion.live.buffers import BufferSpec, DualFrameBuffer, Snapshot
from twostream.fusion.live.capture import Frame
from twostream.fusion.live.records import LiveConfig
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


class Ingest:
    """Pose + preprocessing of each frame into the buffers of a predictor's streams."""

    def __init__(self, specs: dict[str, Any], config: LiveConfig, frame_wise: frozenset[str] = frozenset()):
        self.specs, self.config, self.frame_wise = specs, config, frame_wise
        self.video_spec, self.keypoint_spec = specs.get("video"), specs.get("keypoints")
        if self.keypoint_spec is not None:  # fail now, not in the worker, if MediaPipe-33 cannot feed the model
            from twostream.streams.keypoint_data import to_layout

            to_layout(np.zeros((MEDIAPIPE_33.num_joints, 4), np.float32), self.keypoint_spec.layout)
        self.track_ids = np.full(config.pose.persons, -1)
        self._pose = None
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

    def pose_estimator(self):
        """A context that holds a fresh pose + tracking stream for one run (nothing without a pose stream)."""
        if self.keypoint_spec is None:
            return nullcontext()
        from twostream.pose.tracking import PoseStream

        self._pose = PoseStream(self.config.pose)  # fresh: tracking per run; a missing model is one line
        return self._pose

    def __call__(self, frame: Frame) -> np.ndarray | None:
        """One frame into the buffers; returns its tracked persons' (M, 33, 4) landmarks (slot 0 first; an empty
        slot all zeros) or None without a pose stream."""
        import cv2

        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)  # (H, W, 3)
        pixels = landmarks = None
        if self.video_spec is not None and self.buffer.wants("video", frame.index):  # a frame it may pick
            from twostream.datasets.transforms import frames_to_tensor

            s = self.video_spec
            pixels = np.asarray(frames_to_tensor(rgb[None], s.size, s.mean, s.std)[0])  # (3, S, S)
        if self.keypoint_spec is not None:
            # the frame count as clock (30 fps), as offline: the same frames give the same landmarks
            tracked = self._pose.process(rgb, round(frame.index * 1000 / 30))
            landmarks, self.track_ids = tracked.keypoints, tracked.track_ids  # (M, V, 4), (M,)
        self.buffer.push(frame.index, frame.timestamp, video=pixels, keypoints=landmarks)
        return landmarks
