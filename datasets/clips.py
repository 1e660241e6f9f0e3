"""``ClipDataset``: labelled videos → clips ``{"video", "keypoints", "label", "video_index"}`` for training and
evaluation, with the frame indices from the run's ``Sampling`` (segment or dense) shared by both keys."""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from twostream.datasets.folder import VideoItem
from twostream.datasets.sampling import Sampling
from twostream.datasets.transforms import frames_to_tensor, mirror_keypoints, train_frames_to_tensor
from twostream.datasets.video import probe, read_clip
from twostream.errors import VideoReadError

KEYS = ("video", "keypoints")
LoadKeypoints = Callable[[object, np.ndarray], np.ndarray]
"""``load_keypoints(video_path, frame_indices (T,)) -> (T, [M,] V, 4)``, injected by the caller (e.g. the pose cache)."""


class Unreadable(NamedTuple):
    item: VideoItem
    reason: str


def find_unreadable(items: Sequence[VideoItem], progress: Callable[[int, int], None] | None = None) -> list[Unreadable]:
    """Probe every video (open + decode its first frame) and return those that fail, with the reason.

    ``progress(done, total)`` is called after each video. Lets the CLI report all bad files up front instead of
    failing on the first one mid-epoch.
    """
    bad = []
    for done, item in enumerate(items, start=1):
        try:
            probe(item.path)
        except VideoReadError as exc:
            bad.append(Unreadable(item, str(exc)))
        if progress is not None:
            progress(done, len(items))
    return bad


def fitted_sampling(sampling: Sampling, items: Sequence[VideoItem], clip_len: int) -> Sampling:
    """``sampling`` fitted to the training videos (``Sampling.measured``: fps, segment spans, an automatic
    dense K) from the frame counts and rates of those that can be probed."""
    infos = []
    for item in items:
        try:
            info = probe(item.path)
        except VideoReadError:
            continue
        infos.append((info.num_frames, info.fps))
    return sampling.measured(infos, clip_len)


class ClipDataset(Dataset):
    """Clips of ``clip_len`` frames from labelled videos.

    Item ``i`` is clip ``i % clips_per_video`` of video ``i // clips_per_video`` (``video_index``), so evaluation
    can average ``clips_per_video`` clips per video (``Sampling.clips``); ``sampling`` picks the frames (segment
    by default, or dense). In training mode each item draws
    temporal jitter, crop and flip from a generator seeded by ``(seed, epoch, i)``: reproducible in any
    DataLoader worker; call ``set_epoch`` each epoch. A training flip also mirrors the keypoints when
    ``keypoint_flip`` (the layout's left/right permutation) is given; without it, clips that load keypoints are
    never flipped, so both keys always show the same scene. ``flip=False`` turns the horizontal flip off
    altogether (left/right-specific classes); ``jitter`` is the training ``colour_jitter`` strength (0 = off)
    and ``crop_scale`` the area range of the random resized crop. Their defaults come from the cartoon
    quickstart, where a from-scratch CNN memorised the actors' looks: jitter 0.2 makes colours less reliable, and a
    crop of at least 70 % keeps the moving limbs in view (0.35 often cut them off). An unreadable video raises
    ``VideoReadError``.
    """

    def __init__(self, items: Sequence[VideoItem], *, clip_len: int, size: int, mean, std, train: bool,
                 clips_per_video: int = 1, keys: Sequence[str] = ("video",),
                 load_keypoints: LoadKeypoints | None = None, seed: int = 0,
                 keypoint_flip: Sequence[int] | None = None, flip: bool = True, jitter: float = 0.2,
                 crop_scale: tuple[float, float] = (0.7, 1.0), sampling: Sampling = Sampling()) -> None:
        keys = tuple(keys)
        if not keys or any(k not in KEYS for k in keys):
            raise ValueError(f"keys must be a non-empty subset of {KEYS}, got {keys}")
        if "keypoints" in keys and load_keypoints is None:
            raise ValueError("keys include 'keypoints' but no load_keypoints was given "
                             "(pass e.g. twostream.pose.cache.load_keypoints)")
        if clip_len < 1 or size < 1 or clips_per_video < 1:
            raise ValueError(f"clip_len, size and clips_per_video must be >= 1, "
                             f"got {clip_len}, {size}, {clips_per_video}")
        self.items, self.keys = tuple(items), keys
        self.clip_len, self.size, self.mean, self.std = clip_len, size, tuple(mean), tuple(std)
        self.train, self.clips_per_video, self.seed = train, clips_per_video, seed
        self.load_keypoints, self.keypoint_flip, self.flip = load_keypoints, keypoint_flip, flip
        self.jitter, self.crop_scale, self.sampling = jitter, tuple(crop_scale), sampling
        self.epoch = 0
        self._num_frames: dict[int, int] = {}  # per worker: container frame counts already probed

    def __len__(self) -> int:
        return len(self.items) * self.clips_per_video

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _frame_count(self, video_index: int) -> int:
        if video_index not in self._num_frames:
            self._num_frames[video_index] = probe(self.items[video_index].path).num_frames
        return self._num_frames[video_index]

    def _indices(self, index: int, rng: np.random.Generator | None) -> np.ndarray:
        video_index, clip = divmod(index, self.clips_per_video)
        num_frames = self._frame_count(video_index)
        if rng is not None:
            return self.sampling.indices(num_frames, self.clip_len, rng)  # (clip_len,)
        return self.sampling.clips(num_frames, self.clip_len, self.clips_per_video)[clip]  # (clip_len,)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        video_index = index // self.clips_per_video
        item = self.items[video_index]
        indices = self._indices(index, rng)
        sample: dict = {"label": item.label, "video_index": video_index}
        flipped = False
        if "video" in self.keys:
            clip = read_clip(item.path, indices)
            indices = clip.indices  # clamped when the container over-counts: keypoints follow the same frames
            if rng is None:
                sample["video"] = frames_to_tensor(clip.frames, self.size, self.mean, self.std)
            else:
                generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
                may_flip = self.flip and ("keypoints" not in self.keys or self.keypoint_flip is not None)
                sample["video"], flipped = train_frames_to_tensor(
                    clip.frames, self.size, self.mean, self.std, generator=generator, flip=may_flip,
                    jitter=self.jitter, scale=self.crop_scale)
        if "keypoints" in self.keys:
            keypoints = np.asarray(self.load_keypoints(item.path, indices), dtype=np.float32)  # (T, [M,] V, 4)
            if keypoints.ndim not in (3, 4) or keypoints.shape[0] != len(indices) or keypoints.shape[-1] != 4:
                raise ValueError(f"load_keypoints returned shape {keypoints.shape} for {item.path}; "
                                 f"expected ({len(indices)}, [M,] V, 4)")
            sample["keypoints"] = torch.from_numpy(mirror_keypoints(keypoints, self.keypoint_flip) if flipped else keypoints)
        return sample
