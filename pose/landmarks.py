"""MediaPipe Pose → ``(33, 4)`` landmarks per frame. The ONLY module of twostream that imports mediapipe.

One ``PoseEstimator`` follows one video: MediaPipe runs in tracking mode (``static_image_mode=False``), so it
detects the person once and then tracks the landmarks from frame to frame, which is both faster and steadier
than detecting in every frame. Start a new estimator for each video.

MediaPipe's native code (TFLite, absl logging) writes start-up chatter straight to file descriptor 2, under any
rich output: "INFO: Created TensorFlow Lite XNNPACK delegate", "W0000 ... inference_feedback_manager.cc ...",
"W0000 ... landmark_projection_calculator.cc ...". The estimator captures fd 2 while that chatter is due (its
construction with one blank warm-up frame, then each frame until the first person is found) and writes back
every other line, so native errors and Python tracebacks stay visible.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator, NamedTuple

import numpy as np

EXTRACTOR = "mediapipe.solutions.pose"
NUM_LANDMARKS = 33


class PoseResult(NamedTuple):
    landmarks: np.ndarray
    """float32 (33, 4): x, y normalised to the frame width / height, z (same scale as x, hip-centred), visibility."""
    world: np.ndarray
    """float32 (33, 4): x, y, z in metres around the hips, visibility."""
    detected: bool
    """False when no person was found; then both arrays are zeros."""


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


def _to_array(landmark_list) -> np.ndarray:
    return np.array([(p.x, p.y, p.z, p.visibility) for p in landmark_list.landmark], np.float32)  # (33, 4)


class PoseEstimator:
    """Tracking-mode MediaPipe Pose for one video; use as a context manager (or call ``close``)."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        if model_complexity not in (0, 1, 2):
            raise ValueError(f"model_complexity must be 0, 1 or 2 (lite, full, heavy), got {model_complexity!r}")
        self.model_complexity = model_complexity
        self._quiet = True  # until the first person is found: the landmark models log once when first used
        with quiet_native_stderr():
            from mediapipe.python.solutions import pose as mp_pose

            self._pose = mp_pose.Pose(
                static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=True,
                enable_segmentation=False, min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            # A blank frame opens every model now (they log from graph threads, after Pose() returns) instead of
            # in the middle of the caller's output; no person in it, so tracking starts afresh on the first frame.
            self._pose.process(np.zeros((64, 64, 3), np.uint8))

    def process(self, frame_rgb: np.ndarray) -> PoseResult:
        """Landmarks of the most prominent person in one RGB uint8 ``(H, W, 3)`` frame."""
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        if self._quiet:
            with quiet_native_stderr():
                result = self._pose.process(np.ascontiguousarray(frame_rgb))
            self._quiet = result.pose_landmarks is None
        else:
            result = self._pose.process(np.ascontiguousarray(frame_rgb))
        if result.pose_landmarks is None:
            zeros = np.zeros((NUM_LANDMARKS, 4), np.float32)
            return PoseResult(zeros, zeros.copy(), False)
        world = result.pose_world_landmarks
        world_arr = _to_array(world) if world is not None else np.zeros((NUM_LANDMARKS, 4), np.float32)
        return PoseResult(_to_array(result.pose_landmarks), world_arr, True)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
