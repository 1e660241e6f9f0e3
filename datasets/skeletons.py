"""The keypoint data path: sequences → windows → person slots → augmentation, the same for pickles and caches.

``SkeletonDataset`` cuts fixed-length windows from in-memory sequences (skeleton pickles); a video folder's
``.pose.npz`` caches go through ``datasets.clips.ClipDataset`` (same frame picks as the RGB stream). Either is
then wrapped in ``AugmentedKeypoints``, the ONE place where training keypoints are augmented (flip included,
``datasets.skeleton_aug.default_augment``), always after the window is cut and the person slots are fixed.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from twostream.datasets.persons import fit_persons
from twostream.datasets.sampling import Sampling

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""``augment(keypoints (T, M, V, 4), rng) -> (T, M, V, 4)``, e.g. ``datasets.skeleton_aug.default_augment``."""


class SkeletonDataset(Dataset):
    """Windows of ``clip_len`` frames picked by ``sampling`` (segment: spread over the whole sequence; dense: every
    ``frame_interval`` frames, the real time scale) from sequences (T_i, [M_i,] V, 4).

    Yields ``{"keypoints": float32 (clip_len, persons, V, 4), "label": int, "video_index": int}``. Training
    mode draws a jittered window from a generator seeded by ``(seed, epoch, index)``; evaluation takes
    ``clips_per_video`` evenly spaced windows (test-time averaging as in ``ClipDataset``). Augmentation is
    ``AugmentedKeypoints``' job.
    """

    def __init__(self, sequences: Sequence[np.ndarray], labels: Sequence[int], *, clip_len: int, train: bool,
                 persons: int = 1, seed: int = 0, clips_per_video: int = 1,
                 sampling: Sampling = Sampling()) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"got {len(sequences)} sequences but {len(labels)} labels")
        if clip_len < 1 or clips_per_video < 1 or persons < 1:
            raise ValueError(f"clip_len, clips_per_video and persons must be >= 1, got {clip_len}, "
                             f"{clips_per_video}, {persons}")
        for i, seq in enumerate(sequences):
            shape = np.shape(seq)
            if len(shape) not in (3, 4) or shape[0] < 1 or shape[-1] != 4:
                raise ValueError(f"sequence {i} has shape {shape}; expected (T >= 1, [M,] V, 4) as x, y, z, score")
        self.sequences = [fit_persons(s, persons) for s in sequences]
        self.labels = [int(y) for y in labels]
        self.clip_len, self.train, self.seed, self.clips_per_video = clip_len, train, seed, clips_per_video
        self.sampling = sampling
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sequences) * self.clips_per_video

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        video_index, clip = divmod(index, self.clips_per_video)
        sequence = self.sequences[video_index]  # (T_i, M, V, 4)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            window = sequence[self.sampling.indices(len(sequence), self.clip_len, rng)]
        else:
            window = sequence[self.sampling.clips(len(sequence), self.clip_len, self.clips_per_video)[clip]]
        keypoints = torch.from_numpy(np.ascontiguousarray(window, dtype=np.float32))  # (clip_len, M, V, 4)
        return {"keypoints": keypoints, "label": self.labels[video_index], "video_index": video_index}


class AugmentedKeypoints(Dataset):
    """Wraps a keypoint dataset: fits its ``"keypoints"`` to ``persons`` slots and, when ``augment`` is given,
    augments them with a generator seeded by ``(seed, epoch, index)``."""

    def __init__(self, base: Dataset, augment: Augment | None, *, persons: int, seed: int = 0) -> None:
        self.base, self.augment, self.persons, self.seed, self.epoch = base, augment, persons, seed, 0

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        sample = dict(self.base[index])
        keypoints = fit_persons(sample["keypoints"].numpy(), self.persons)  # (T, M, V, 4)
        if self.augment is not None:
            keypoints = self.augment(keypoints, np.random.default_rng([self.seed, self.epoch, index, 7]))
        sample["keypoints"] = torch.from_numpy(np.ascontiguousarray(keypoints, dtype=np.float32))
        return sample
