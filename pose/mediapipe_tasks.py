"""The MediaPipe Tasks ``PoseLandmarker`` backend: up to M people per frame, 33 joints each.

With ``pose.bundle`` the only modules of twostream that import mediapipe. One estimator follows one video in
Tasks' VIDEO mode (frames in order, increasing timestamps): it detects people, then follows each from frame to
frame, which is both faster and steadier than detecting in every frame. Start a new estimator for each video.

MediaPipe's native code (TFLite, absl logging) writes start-up chatter straight to file descriptor 2, under any
rich output: "INFO: Created TensorFlow Lite XNNPACK delegate", "W0000 ... inference_feedback_manager.cc ...",
"W0000 ... landmark_projection_calculator.cc ...". The estimator captures fd 2 while that chatter is due (its
construction, then each frame until the first person is found) and writes back every other line, so native
errors and Python tracebacks stay visible.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from twostream.errors import WeightsError
from twostream.pose.backends import PoseConfig, Persons, boxes_of, empty_persons
from twostream.pose.bundle import resolve_model

LAYOUT = "mediapipe33"
NUM_LANDMARKS = 33


_CHATTER = re.compile(
    r"^(INFO: Created TensorFlow Lite"  # TFLite's delegate notice
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"  # absl's own preamble
    r"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] )"  # absl INFO / WARNING lines (E and F are kept)
)
_STDERR_LOCK = threading.Lock()  # fd 2 is process-wide: one capture at a time


def is_chatter(line: str) -> bool:
    """Whether one stderr line is MediaPipe / TFLite start-up noise (never an error)."""
    return bool(_CHATTER.match(line))


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Capture file descriptor 2 for the block, then write back every line that is not ``is_chatter``.

    Restored on any exit (an exception in the block still propagates, and is printed by the caller as usual).
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (closed, or a replaced sys.stderr): nothing to filter
            yield
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            sink.seek(0)
            kept = [line for line in sink.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not is_chatter(line)]
            if kept:
                os.write(2, "".join(kept).encode("utf-8"))


def mediapipe_version() -> str:
    import mediapipe

    return str(mediapipe.__version__)


def _to_array(landmarks, field: str) -> np.ndarray:
    return np.array([(p.x, p.y, p.z, getattr(p, field) or 0.0) for p in landmarks], np.float32)  # (33, 4)


class MediaPipeTasksEstimator:
    """Tasks ``PoseLandmarker`` in VIDEO mode for one video; use as a context manager (or call ``close``)."""

    layout = LAYOUT
    num_joints = NUM_LANDMARKS

    def __init__(self, config: PoseConfig = PoseConfig()) -> None:
        bundle = resolve_model(config.model)  # before any native code: a missing model is one clear line
        self.config = config
        self._last_ms = -1
        self._quiet = True  # until the first person is found: the landmark model logs once when first used
        with quiet_native_stderr():
            from mediapipe.tasks.python import BaseOptions
            from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

            options = PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(bundle)), running_mode=RunningMode.VIDEO,
                num_poses=config.persons, min_pose_detection_confidence=config.min_confidence,
                min_pose_presence_confidence=config.min_confidence, min_tracking_confidence=config.min_confidence)
            try:
                self._landmarker = PoseLandmarker.create_from_options(options)
            except (RuntimeError, ValueError) as exc:
                raise WeightsError(f"MediaPipe cannot load the pose model {bundle}: {exc}") from None

    def process(self, frame_rgb: np.ndarray, timestamp_ms: int) -> Persons:
        """Every person (up to ``config.persons``) in one RGB uint8 ``(H, W, 3)`` frame."""
        import mediapipe as mp

        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        self._last_ms = max(int(timestamp_ms), self._last_ms + 1)  # Tasks needs strictly increasing stamps
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb))
        if self._quiet:
            with quiet_native_stderr():
                result = self._landmarker.detect_for_video(image, self._last_ms)
            self._quiet = not result.pose_landmarks
        else:
            result = self._landmarker.detect_for_video(image, self._last_ms)
        if not result.pose_landmarks:
            return empty_persons(NUM_LANDMARKS)
        keypoints = np.stack([_to_array(p, "visibility") for p in result.pose_landmarks])  # (P, 33, 4)
        world = np.stack([_to_array(p, "visibility") for p in result.pose_world_landmarks])  # (P, 33, 4)
        presence = np.array([np.mean([lm.presence or 0.0 for lm in p]) for p in result.pose_landmarks],
                            np.float32)  # (P,)
        return Persons(keypoints, world, presence, boxes_of(keypoints))

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> MediaPipeTasksEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
