"""The pose-backend seam: one small protocol, a registry of backends, and the settings every command passes.

A backend turns one RGB frame into the people it sees (``Persons``: keypoints ``(P, V, 4)``, a score and a box
each), in its own joint layout (``layout``, ``num_joints`` travel with the data). It knows nothing about
tracking or slots (``pose.tracking`` does that). The MediaPipe Tasks ``PoseLandmarker`` is the default; adding
another backend (e.g. an RTMPose ONNX model) is one new module with a class taking a ``PoseConfig`` plus its line
in ``_BACKENDS``. Nothing outside ``pose/`` imports mediapipe.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

DEFAULT_PERSONS = 2
_BACKENDS = {"mediapipe": "twostream.pose.mediapipe_tasks:MediaPipeTasksEstimator"}


@dataclass(frozen=True)
class PoseConfig:
    """What runs pose: which backend, which model (``full|lite|heavy|PATH.task``), how many persons at most."""

    backend: str = "mediapipe"
    model: str = "full"
    persons: int = DEFAULT_PERSONS
    min_confidence: float = 0.3
    """Detection, presence and tracking thresholds of the backend."""
    search_every: int = 8
    """With ``persons > 1``: while fewer than ``persons`` people are followed, look for more only every this many
    frames (a backend that detects per frame otherwise pays its person detector on every frame of a one-person
    video); 1 looks on every frame. Someone entering the view is found within this many frames."""

    def __post_init__(self) -> None:
        if self.backend not in _BACKENDS:
            raise ValueError(f"pose backend must be one of {', '.join(_BACKENDS)}, got {self.backend!r}")
        if self.persons < 1:
            raise ValueError(f"--persons must be >= 1, got {self.persons}")
        if self.search_every < 1:
            raise ValueError(f"search_every must be >= 1, got {self.search_every}")
        if not 0.0 < self.min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {self.min_confidence}")


@dataclass(frozen=True)
class Persons:
    """The people found in one frame, in no particular order."""

    keypoints: np.ndarray
    """float32 (P, V, 4): x, y normalised to the frame, z, visibility."""
    world: np.ndarray
    """float32 (P, V, 4): x, y, z in metres around the hips, visibility (zeros when the backend has none)."""
    scores: np.ndarray
    """float32 (P,): how sure the backend is of each person."""
    boxes: np.ndarray
    """float32 (P, 4): x0, y0, x1, y1 normalised, around the visible joints."""

    def __len__(self) -> int:
        return len(self.keypoints)


class PoseEstimator(Protocol):
    """One video (or one live stream): frames in order, increasing timestamps."""

    layout: str
    num_joints: int

    def process(self, frame_rgb: np.ndarray, timestamp_ms: int) -> Persons: ...

    def close(self) -> None: ...


def boxes_of(keypoints: np.ndarray, min_visibility: float = 0.3) -> np.ndarray:
    """(P, V, 4) keypoints → (P, 4) boxes x0, y0, x1, y1 around the joints seen (all joints when none is)."""
    boxes = np.zeros((len(keypoints), 4), np.float32)
    for p, joints in enumerate(keypoints):
        seen = joints[joints[:, 3] >= min_visibility] if (joints[:, 3] >= min_visibility).any() else joints
        boxes[p] = (*seen[:, :2].min(0), *seen[:, :2].max(0))
    return boxes


def empty_persons(num_joints: int) -> Persons:
    return Persons(np.zeros((0, num_joints, 4), np.float32), np.zeros((0, num_joints, 4), np.float32),
                   np.zeros(0, np.float32), np.zeros((0, 4), np.float32))


def open_estimator(config: PoseConfig = PoseConfig()) -> PoseEstimator:
    """A fresh estimator of ``config.backend`` (use it as a context manager, or ``close`` it)."""
    module, _, name = _BACKENDS[config.backend].partition(":")
    return getattr(importlib.import_module(module), name)(config)
