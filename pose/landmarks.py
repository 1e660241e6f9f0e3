"""MediaPipe Pose → ``(33, 4)`` landmarks per frame. The ONLY module of twostream that imports mediapipe.

One ``PoseEstimator`` follows one video: MediaPipe runs in tracking mode (``static_image_mode=False``), so it
detects the person once and then tracks the landmarks from frame to frame, which is both faster and steadier
than detecting in every frame. Start a new estimator for each video.
"""

from __future__ import annotations

from typing import NamedTuple

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
        from mediapipe.python.solutions import pose as mp_pose

        self.model_complexity = model_complexity
        self._pose = mp_pose.Pose(
            static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=True,
            enable_segmentation=False, min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def process(self, frame_rgb: np.ndarray) -> PoseResult:
        """Landmarks of the most prominent person in one RGB uint8 ``(H, W, 3)`` frame."""
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
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
