"""Which frames make a clip: ONE pure function shared by the RGB and keypoint paths (TSN-style segments).

The video is cut into ``clip_len`` equal segments and one frame is taken from each: the centre for evaluation,
a random position for training. A video shorter than the clip therefore repeats frames evenly.
"""

from __future__ import annotations

import numpy as np


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
