"""``SkeletonDataset``: in-memory keypoint sequences (pickle imports, pose caches) → fixed-length windows."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from twostream.datasets.sampling import multi_clip_indices, uniform_indices

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""``augment(keypoints (T, V, 4), rng) -> (T, V, 4)``, e.g. ``twostream.streams.skeleton_aug.default_augment``."""


class SkeletonDataset(Dataset):
    """Windows of ``clip_len`` frames sampled with ``uniform_indices`` from sequences of shape (T_i, V, 4).

    Yields ``{"keypoints": float32 (clip_len, V, 4), "label": int, "video_index": int}``. Training mode: the
    per-item generator is seeded by ``(seed, epoch, index)``, ``augment`` (if any) runs on the whole sequence
    with it, then a jittered window is drawn. ``transform(keypoints) -> keypoints`` (if any) runs in both modes
    on the window. ``clips_per_video`` gives test-time averaging as in ``ClipDataset``.
    """

    def __init__(self, sequences: Sequence[np.ndarray], labels: Sequence[int], *, clip_len: int, train: bool,
                 augment: Augment | None = None, transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 seed: int = 0, clips_per_video: int = 1) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"got {len(sequences)} sequences but {len(labels)} labels")
        if clip_len < 1 or clips_per_video < 1:
            raise ValueError(f"clip_len and clips_per_video must be >= 1, got {clip_len}, {clips_per_video}")
        for i, seq in enumerate(sequences):
            shape = np.shape(seq)
            if len(shape) != 3 or shape[0] < 1 or shape[2] != 4:
                raise ValueError(f"sequence {i} has shape {shape}; expected (T >= 1, V, 4) as x, y, z, visibility")
        self.sequences = [np.asarray(s, dtype=np.float32) for s in sequences]
        self.labels = [int(y) for y in labels]
        self.clip_len, self.train, self.seed, self.clips_per_video = clip_len, train, seed, clips_per_video
        self.augment, self.transform = augment, transform
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sequences) * self.clips_per_video

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        video_index, clip = divmod(index, self.clips_per_video)
        sequence = self.sequences[video_index]  # (T_i, V, 4)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            if self.augment is not None:
                sequence = self.augment(sequence, rng)
            window = sequence[uniform_indices(len(sequence), self.clip_len, rng)]  # (clip_len, V, 4)
        else:
            window = sequence[multi_clip_indices(len(sequence), self.clip_len, self.clips_per_video)[clip]]
        if self.transform is not None:
            window = self.transform(window)
        keypoints = torch.from_numpy(np.ascontiguousarray(window, dtype=np.float32))
        return {"keypoints": keypoints, "label": self.labels[video_index], "video_index": video_index}
