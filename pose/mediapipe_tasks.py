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
HOLD_SEARCHES = 16
"""After the M-person landmarker last saw M people it keeps every frame for this many search periods: a second
person it loses (overlap, occlusion) is searched for on every frame while they are likely still there."""


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


def _create_landmarker(bundle, config: PoseConfig, num_poses: int):
    """A Tasks ``PoseLandmarker`` in VIDEO mode following up to ``num_poses`` people."""
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle)), running_mode=RunningMode.VIDEO,
        num_poses=num_poses, min_pose_detection_confidence=config.min_confidence,
        min_pose_presence_confidence=config.min_confidence, min_tracking_confidence=config.min_confidence)
    try:
        return PoseLandmarker.create_from_options(options)
    except (RuntimeError, ValueError) as exc:
        raise WeightsError(f"MediaPipe cannot load the pose model {bundle}: {exc}") from None


class MediaPipeTasksEstimator:
    """Tasks ``PoseLandmarker`` in VIDEO mode for one video; use as a context manager (or call ``close``)."""

    layout = LAYOUT
    num_joints = NUM_LANDMARKS

    def __init__(self, config: PoseConfig = PoseConfig()) -> None:
        bundle = resolve_model(config.model)  # before any native code: a missing model is one clear line
        self.config = config
        self._last_ms = -1
        self._frame = 0
        self._search_until = config.search_every  # the M-person landmarker runs on every frame before this one
        self._quiet: set[int] = set()  # landmarkers that found nobody yet: the landmark model logs when first used
        with quiet_native_stderr():
            self._landmarkers = {n: _create_landmarker(bundle, config, n) for n in {1, config.persons}}
        self._quiet.update(self._landmarkers)

    def _num_poses(self) -> int:
        """Which landmarker takes this frame.

        Tasks' landmarker runs its person detector on every frame in which it follows fewer than ``num_poses``
        people, so on a one-person video ``num_poses=2`` costs a detection per frame (about 1.7x the time).
        Instead the M-person landmarker takes the first ``search_every`` frames (people overlapping in the first
        frame are told apart within a few), then a one-person landmarker follows the video and the M-person one
        looks for more people every ``search_every`` frames; once it finds M it takes every frame, and keeps them ``HOLD_SEARCHES *
        search_every`` frames after it last saw M (an overlap or occlusion does not send it back to searching).
        """
        persons = self.config.persons
        if persons == 1 or self._frame < self._search_until or self._frame % self.config.search_every == 0:
            return persons
        return 1

    def process(self, frame_rgb: np.ndarray, timestamp_ms: int) -> Persons:
        """Every person (up to ``config.persons``) in one RGB uint8 ``(H, W, 3)`` frame."""
        import mediapipe as mp

        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        self._last_ms = max(int(timestamp_ms), self._last_ms + 1)  # Tasks needs strictly increasing stamps
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb))
        num_poses = self._num_poses()
        landmarker = self._landmarkers[num_poses]
        if num_poses in self._quiet:
            with quiet_native_stderr():
                result = landmarker.detect_for_video(image, self._last_ms)
            if result.pose_landmarks:
                self._quiet.discard(num_poses)
        else:
            result = landmarker.detect_for_video(image, self._last_ms)
        if num_poses > 1 and len(result.pose_landmarks) >= num_poses:
            self._search_until = self._frame + 1 + HOLD_SEARCHES * self.config.search_every
        self._frame += 1
        if not result.pose_landmarks:
            return empty_persons(NUM_LANDMARKS)
        keypoints = np.stack([_to_array(p, "visibility") for p in result.pose_landmarks])  # (P, 33, 4)
        world = np.stack([_to_array(p, "visibility") for p in result.pose_world_landmarks])  # (P, 33, 4)
        presence = np.array([np.mean([lm.presence or 0.0 for lm in p]) for p in result.pose_landmarks],
                            np.float32)  # (P,)
        return Persons(keypoints, world, presence, boxes_of(keypoints))

    def close(self) -> None:
        for landmarker in self._landmarkers.values():
            landmarker.close()

    def __enter__(self) -> MediaPipeTasksEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
