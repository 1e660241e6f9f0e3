"""Person slots of a keypoint clip (numpy only, light enough for the pose cache and extraction workers)."""

from __future__ import annotations

import numpy as np


def fit_persons(keypoints: np.ndarray, persons: int) -> np.ndarray:
    """``(T, V, 4)`` (one person) or ``(T, M, V, 4)`` → ``(T, persons, V, 4)``: the first slots, zero-padded."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim == 3:
        kp = kp[:, None]
    if kp.ndim != 4 or kp.shape[-1] != 4:
        raise ValueError(f"keypoints of shape {kp.shape}; expected (T, V, 4) or (T, M, V, 4) as x, y, z, score")
    if kp.shape[1] >= persons:
        return np.ascontiguousarray(kp[:, :persons])
    pad = np.zeros((kp.shape[0], persons - kp.shape[1]) + kp.shape[2:], np.float32)
    return np.concatenate([kp, pad], axis=1)
