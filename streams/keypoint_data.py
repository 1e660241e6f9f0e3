"""Datasets for the keypoint streams: a video folder with ``.pose.npz`` caches, or a skeleton pickle.

Window. A keypoint clip is ``clip_len`` (T) frames picked by the run's ``datasets.sampling.Sampling`` — for a
folder, exactly the frames the RGB stream would pick, so both streams can see the same frames. A keypoint model's
default is dense sampling with an automatic K, fitted here on the training sequences (``Sampling.measured``): T
frames every K-th, K the largest whose clip fits in the median training sequence (CMU mocap, median 75 frames,
T = 32: K = 2; 30-frame sequences: K = 1), a shorter sequence looping. The real time between two picks is then
the same in every clip, so the features' velocities are real speeds (segment sampling would stretch a 1 s run
and a 4 s walk to the same T picks). The fitted sampling goes into ``DatasetBundle.sampling`` and the run, and
the live demo keeps the same window at the camera's frame rate. The pickle's ``fps``, when it has one, is the
run's frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from twostream.errors import CacheError
from twostream.datasets.splits import group_number
from twostream.pose.cache import cache_path_for, keypoints_at, load_cache, select_persons, stamp_matches
from twostream.pose.cache_check import screen_split
from twostream.pose.skeleton import MEDIAPIPE_33, get_layout, mediapipe33_to_coco17, parents
from twostream.streams.base import InputSpec
from twostream.datasets.skeleton_aug import default_augment
from twostream.datasets.bundle import DatasetBundle
from twostream.datasets.skeletons import AugmentedKeypoints, SkeletonDataset


def to_layout(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Raw ``(..., V, 4)`` keypoints in the joint order of ``layout``; MediaPipe-33 input is reduced to COCO-17."""
    target = get_layout(layout)
    have = keypoints.shape[-2]
    if have == target.num_joints:
        return keypoints
    if have == MEDIAPIPE_33.num_joints and target.name == "coco17":
        return mediapipe33_to_coco17(keypoints)
    raise ValueError(f"keypoints with {have} joints cannot feed a {layout!r} model ({target.num_joints} joints); "
                     "train the pose model with --layout mediapipe33 for MediaPipe caches")


@dataclass(frozen=True)
class CacheKeypoints:
    """``load_keypoints(video, frame_indices) -> (T, V, 4)`` (``persons=None``: the main actor) or ``(T, M, V, 4)``
    (``persons=M``) from the video's fresh ``.pose.npz``, in ``layout``.

    A plain picklable object (DataLoader workers). A missing or stale cache is a ``CacheError`` that names the
    video and the fix, ``twostream extract ROOT``.
    """

    layout: str = "mediapipe33"
    root: str | None = None
    """Dataset root, only for the error message."""
    persons: int | None = None
    """None: slot 0 only, (T, V, 4); M: M person slots, (T, M, V, 4)."""

    def __call__(self, video: str | Path, frame_indices: np.ndarray) -> np.ndarray:
        path = cache_path_for(video)
        fix = f"run `twostream extract {self.root or Path(video).parent}`"
        if not path.is_file():
            raise CacheError(f"no keypoint cache for video {video} (expected {path}); {fix}")
        cache = load_cache(path)
        if not stamp_matches(cache, video):
            raise CacheError(f"keypoint cache {path} is older than video {video}; {fix} --force")
        return select_persons(to_layout(keypoints_at(cache, frame_indices), self.layout), self.persons)


def source_layout(source: str | Path) -> str:
    """The joint layout a keypoint source holds: a skeleton pickle records its own (COCO-17 for the pyskl /
    mmaction2 files), a dataset folder's ``.pose.npz`` caches are MediaPipe-33."""
    source = Path(source)
    return _skeletons(source).layout if source.is_file() else MEDIAPIPE_33.name


def source_persons(path: str | Path, most: int = 2) -> int:
    """Person slots a skeleton pickle fills in any of its sequences, at most ``most`` (PYSKL keeps 2)."""
    return min(most, max(r.keypoints.shape[1] for r in _skeletons(Path(path)).annotations))


def _skeletons(path: Path):
    """The pickle at ``path``, read once per (file, modification): ``source_layout`` and the datasets share it."""
    stat = path.stat()
    return _read_skeletons(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1)
def _read_skeletons(path: str, mtime_ns: int, size: int):
    from twostream.pose.pickle_io import load_skeleton_pickle

    return load_skeleton_pickle(path)


def build_keypoint_datasets(source: str | Path, *, spec: InputSpec, split: int = 1,
                            split_dir: str | Path | None = None, train_split: str | None = None,
                            test_split: str | None = None, val_fraction: float = 0.1, seed: int = 0,
                            clips_per_video: int = 1, flip: bool = True,
                            videos: dict[str, list[str]] | None = None, on_bad_cache: str = "fail",
                            fold: tuple[int, int] | None = None):
    """Train / val / test keypoint datasets (a ``streams.data.DatasetBundle``) for a stream with ``spec``.

    ``source`` is either a dataset folder whose videos have ``.pose.npz`` caches beside them (the RGB stream's
    ``load_split`` split, so both streams train and test on the same videos), or an mmaction2 / pyskl skeleton
    pickle whose split lists ``train_split`` / ``test_split`` name (validation is carved from train, whole
    UCF101 groups at a time). Training samples are augmented with ``skeleton_aug.default_augment``, without its
    horizontal flip when ``flip`` is False (left/right-specific classes). Validation is carved by source (the
    pickle's ``subject``, a UCF101 group), as fold ``fold = (k, K)`` when given; ``meta["validation_by"]`` says
    which (None: validation shares sources with training).
    """
    if spec.key != "keypoints":
        raise ValueError(f"build_keypoint_datasets needs a keypoints InputSpec, got key {spec.key!r}")
    source = Path(source)
    if source.is_file():
        return _from_pickle(source, spec, train_split, test_split, val_fraction, seed, clips_per_video, flip, fold)
    if train_split is not None or test_split is not None:
        raise ValueError("--train-split/--test-split name the split lists of a skeleton pickle; a video folder "
                         "uses --split K (and --split-dir D)")
    if not source.is_dir():
        raise FileNotFoundError(f"keypoint source {source} is neither a dataset folder nor a skeleton pickle")
    return _from_folder(source, spec, split, split_dir, val_fraction, seed, clips_per_video, flip, videos,
                        on_bad_cache, fold)


def _from_folder(root: Path, spec: InputSpec, split: int, split_dir, val_fraction: float, seed: int,
                 clips_per_video: int, flip: bool, videos: dict[str, list[str]] | None = None,
                 on_bad_cache: str = "fail", fold: tuple[int, int] | None = None):
    from twostream.datasets.clips import ClipDataset, fitted_sampling
    from twostream.datasets.splits import load_split, with_fold

    s = with_fold(load_split(root, split=split, split_dir=split_dir, val_fraction=val_fraction, seed=seed,
                             videos=videos), fold, seed)
    load = CacheKeypoints(spec.layout or MEDIAPIPE_33.name, str(root), persons=spec.persons or 1)
    # fewer person slots than the model reads is fine: absent persons are zeros (the keypoint contract)
    s, dropped = screen_split(s, root, on_bad_cache=on_bad_cache, layouts={MEDIAPIPE_33.name, load.layout})
    sampling = fitted_sampling(spec.sampling, s.train, spec.clip_len)

    def make(items, train: bool):
        if not items:
            return None
        # size / mean / std only shape the "video" key, which a keypoint dataset does not read
        return ClipDataset(items, clip_len=spec.clip_len, size=1, mean=(0.0,) * 3, std=(1.0,) * 3, train=train,
                           clips_per_video=1 if train else clips_per_video, keys=("keypoints",),
                           load_keypoints=load, seed=seed, sampling=sampling)

    layout, persons = get_layout(load.layout), spec.persons or 1
    wrap = lambda data, augment: data and AugmentedKeypoints(data, augment, persons=persons, seed=seed)  # noqa: E731
    train = wrap(make(s.train, True), default_augment(layout.flip, parents(layout), mirror=flip))
    by = "group" if all(group_number(i.group) for i in s.train + s.val) else None
    meta = {"root": str(root.resolve()), "source": "folder", "layout": load.layout, "split": split,
            "split_dir": str(split_dir) if split_dir else None, "val_fraction": val_fraction, "seed": seed,
            "flip": flip, "videos": s.record(), "validation_by": by, "fold": fold}
    return DatasetBundle(tuple(s.classes), train, wrap(make(s.val, False), None), wrap(make(s.test, False), None),
                         dropped, meta, s.unlisted, sampling)


def _from_pickle(path: Path, spec: InputSpec, train_split: str | None, test_split: str | None,
                 val_fraction: float, seed: int, clips_per_video: int, flip: bool, fold: tuple[int, int] | None):
    from twostream.datasets.splits import fold_split, group_split

    skeletons = _skeletons(path)
    if spec.layout != skeletons.layout:
        raise ValueError(f"{path} holds {skeletons.layout} skeletons but the model expects {spec.layout!r}; "
                         f"train with --layout {skeletons.layout}")
    records = {r.name: r for r in skeletons.annotations}
    if any(r.label < 0 for r in records.values()):
        raise ValueError(f"{path} has annotations without a label; it cannot be used for training")
    names = {"train": _split_names(skeletons.splits, train_split, path, "train", list(records)),
             "test": _split_names(skeletons.splits, test_split, path, "test", [])}
    unknown = [n for part in names.values() for n in part if n not in records]
    if unknown:
        raise ValueError(f"{path}: split lists name {len(unknown)} unknown annotations, e.g. {unknown[0]!r}")
    pseudo, by = _grouped(names["train"], records)
    if fold is None:
        kept, held = group_split(pseudo, val_fraction, np.random.default_rng(seed))
    else:
        kept, held = fold_split(pseudo, fold, seed)
    classes = skeletons.classes or tuple(str(i) for i in range(max(r.label for r in records.values()) + 1))
    layout, persons = get_layout(skeletons.layout), spec.persons or 1
    sampling = spec.sampling.measured([(len(records[i.rel].keypoints), skeletons.fps) for i in kept], spec.clip_len)

    def make(part: Sequence[str], train: bool):
        if not part:
            return None
        data = SkeletonDataset([records[n].keypoints for n in part], [records[n].label for n in part],
                               clip_len=spec.clip_len, train=train, seed=seed, persons=persons,
                               clips_per_video=1 if train else clips_per_video, sampling=sampling)
        augment = default_augment(layout.flip, parents(layout), mirror=flip) if train else None
        return AugmentedKeypoints(data, augment, persons=persons, seed=seed)

    meta = {"root": str(path.resolve()), "source": "pickle", "layout": skeletons.layout, "train_split": train_split,
            "test_split": test_split, "val_fraction": val_fraction, "seed": seed, "flip": flip,
            "validation_by": by, "fold": fold}
    return DatasetBundle(classes, make([i.rel for i in kept], True), make([i.rel for i in held], False),
                         make(names["test"], False), (), meta, sampling=sampling)


def _grouped(names: Sequence[str], records: dict) -> tuple[tuple, str | None]:
    """Pseudo ``VideoItem``s for ``group_split``, grouped by what the data says is one source — the pickle's
    ``subject`` (the same subjects held out in every class), else a UCF101 ``_gNN_`` name — and what that was
    (``"subject"``, ``"group"``, or None: every sequence its own group, validation shares sources)."""
    from twostream.datasets.folder import VideoItem, group_of

    if all(records[n].subject is not None for n in names):
        number = {s: i for i, s in enumerate(sorted({records[n].subject for n in names}))}
        groups, by = [f"{records[n].label}/subject_g{number[records[n].subject]}" for n in names], "subject"
    else:
        groups = [f"{records[n].label}/{group_of(n)}" for n in names]
        by = "group" if all(group_number(g) for g in groups) else None
    return tuple(VideoItem(Path(n), records[n].label, n, g) for n, g in zip(names, groups)), by


def _split_names(splits: dict[str, list[str]], key: str | None, path: Path, role: str,
                 default: list[str]) -> list[str]:
    if key is None:
        if splits:
            raise ValueError(f"{path} has split lists {', '.join(sorted(splits))}; choose them with "
                             f"--train-split KEY --test-split KEY")
        return default
    if key not in splits:
        raise ValueError(f"{path} has no split list {key!r} (for --{role}-split); "
                         f"available: {', '.join(sorted(splits)) or 'none'}")
    return list(splits[key])
