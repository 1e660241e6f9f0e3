"""Datasets for a stream, chosen by what the stream reads (its ``InputSpec``): clips of videos or skeletons."""

from __future__ import annotations

from pathlib import Path
from twostream.datasets.bundle import DatasetBundle
from twostream.streams.base import InputSpec
from twostream.streams.keypoint_data import build_keypoint_datasets

__all__ = ["DatasetBundle", "build_datasets"]


def build_datasets(root: str | Path, spec: InputSpec, *, split: int = 1, split_dir: str | Path | None = None,
                   clips_per_video: int = 1, train_split: str | None = None, test_split: str | None = None,
                   val_fraction: float = 0.1, seed: int = 0, check_videos: bool = True,
                   flip: bool = True, videos: dict[str, list[str]] | None = None,
                   on_bad_cache: str = "fail", fold: tuple[int, int] | None = None) -> DatasetBundle:
    """Datasets for a stream that reads ``spec.key``.

    Video streams: ``ClipDataset`` over ``load_split(root, split, split_dir)``; test and validation clips use
    ``clips_per_video`` evenly spaced clips. Videos that cannot be probed are dropped up front and named in
    ``DatasetBundle.dropped`` (instead of failing mid-epoch). Keypoint streams: delegated to
    ``streams.keypoint_data.build_keypoint_datasets`` (``root`` may then be a skeleton pickle). ``flip=False``
    turns off the training horizontal flip of either stream (classes that differ by side: ``wave_left``).
    ``videos`` (a run's recorded lists, ``meta["videos"]``) freezes the split of a folder dataset. Keypoint
    caches are all checked here, before any work (``pose.cache_check``; ``on_bad_cache`` fail | skip | extract).
    ``fold = (k, K)`` makes validation fold k of a K-fold split of the training data by source
    (``datasets.splits.fold_split``).
    """
    if spec.key == "keypoints":
        return build_keypoint_datasets(root, spec=spec, split=split, split_dir=split_dir, train_split=train_split,
                                       test_split=test_split, val_fraction=val_fraction, seed=seed,
                                       clips_per_video=clips_per_video, flip=flip, videos=videos,
                                       on_bad_cache=on_bad_cache, fold=fold)
    if train_split is not None or test_split is not None:
        raise ValueError("--train-split/--test-split name the splits of a skeleton pickle; a video folder uses "
                         "--split K (and --split-dir D)")
    from twostream.datasets.clips import ClipDataset, find_unreadable, fitted_sampling
    from twostream.datasets.splits import group_number, load_split, with_fold

    root = Path(root)
    if root.is_file():
        raise NotADirectoryError(f"dataset {root} is a file, not a folder; an RGB model trains on a folder "
                                 "ROOT/<Class>/<video> (skeleton .pkl files are for keypoint models)")
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist; expected ROOT/<Class>/<video> "
                                "(try `twostream synth OUT` for a small one)")
    s = with_fold(load_split(root, split=split, split_dir=split_dir, val_fraction=val_fraction, seed=seed,
                             videos=videos), fold, seed)
    bad = {u.item.path for u in find_unreadable(s.train + s.val + s.test)} if check_videos else set()
    parts = {name: [i for i in getattr(s, name) if i.path not in bad] for name in ("train", "val", "test")}
    dropped = sorted(str(i.rel) for i in s.train + s.val + s.test if i.path in bad)
    if not parts["train"]:
        raise ValueError(f"no readable training videos under {root} (split {split}); check the folder layout")
    sampling = fitted_sampling(spec.sampling, parts["train"], spec.clip_len)
    common = dict(clip_len=spec.clip_len, size=spec.size, mean=spec.mean, std=spec.std, seed=seed, flip=flip,
                  sampling=sampling)
    make = lambda items, train: ClipDataset(items, train=train, clips_per_video=1 if train else clips_per_video,  # noqa: E731
                                            **common) if items else None
    meta = {"root": str(root.resolve()), "split": split, "split_dir": str(split_dir) if split_dir else None,
            "val_fraction": val_fraction, "seed": seed, "flip": flip, "videos": s.record(), "fold": fold,
            "validation_by": "group" if all(group_number(i.group) for i in s.train + s.val) else None}
    return DatasetBundle(tuple(s.classes), make(parts["train"], True), make(parts["val"], False),
                         make(parts["test"], False), tuple(dropped), meta, s.unlisted, sampling)

