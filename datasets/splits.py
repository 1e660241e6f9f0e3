"""Train / validation / test splits: UCF101's official split files, or a group-keeping stratified split.

Official files (as distributed in ``UCF101TrainTestSplits-RecognitionTask.zip``, CRLF line endings):
``classInd.txt`` (``1 ApplyEyeMakeup``, 1-based), ``trainlist0K.txt`` (``ApplyEyeMakeup/v_..._g08_c01.avi 1``)
and ``testlist0K.txt`` (``ApplyEyeMakeup/v_..._g01_c01.avi``, no label), K in 1..3. Validation is always
carved from the training side, whole groups at a time, so it never holds a test video or a test actor.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from twostream.datasets.folder import VideoItem, make_item, scan_class_folders

SPLIT_SUBDIR = "ucfTrainTestlist"
_GROUP_NUMBER = re.compile(r"_g(\d+)$")


@dataclass(frozen=True)
class Split:
    """A dataset's classes and its three disjoint item lists."""

    classes: tuple[str, ...]
    """Class names; ``VideoItem.label`` indexes this tuple."""
    train: tuple[VideoItem, ...]
    val: tuple[VideoItem, ...]
    test: tuple[VideoItem, ...]
    unlisted: tuple[str, ...] = ()
    """With frozen lists (``load_split(videos=...)``): videos found under the root that no list names (added
    after training), relative paths; they are left out, and the caller reports them."""

    def record(self) -> dict[str, list[str]]:
        """The exact video lists, ``{"train", "val", "test"}`` → relative paths, that a run freezes in its
        ``config.json`` and passes back as ``load_split(videos=...)``."""
        return {name: [item.rel for item in getattr(self, name)] for name in ("train", "val", "test")}


def find_split_dir(root: Path, split_dir: str | Path | None = None) -> Path | None:
    """The folder holding ``classInd.txt``: ``split_dir`` (must hold it), else ``root``, else
    ``root/ucfTrainTestlist``; ``None`` when there is none."""
    if split_dir is not None:
        split_dir = Path(split_dir)
        if not (split_dir / "classInd.txt").is_file():
            raise FileNotFoundError(f"no classInd.txt in split folder {split_dir}; point --split-dir at the "
                                    f"unzipped ucfTrainTestlist folder")
        return split_dir
    for candidate in (root, root / SPLIT_SUBDIR):
        if (candidate / "classInd.txt").is_file():
            return candidate
    return None


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """(1-based line number, whitespace-split fields) of each non-blank line; tolerates CRLF and a BOM."""
    text = path.read_text(encoding="utf-8-sig")
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_class_index(path: Path) -> tuple[str, ...]:
    """Class names in ``classInd.txt`` order (its 1-based numbers must run 1, 2, 3, …)."""
    classes = []
    for n, fields in _lines(path):
        if len(fields) != 2 or not fields[0].isdigit() or int(fields[0]) != len(classes) + 1:
            raise ValueError(f"{path}:{n}: expected '<{len(classes) + 1}> <ClassName>', got {' '.join(fields)!r}")
        classes.append(fields[1])
    if not classes:
        raise ValueError(f"{path} lists no classes")
    return tuple(classes)


def read_split_list(path: Path, root: Path, classes: tuple[str, ...]) -> tuple[VideoItem, ...]:
    """Items of a train/test list; the label comes from the class folder and must agree with a label column."""
    index = {name: i for i, name in enumerate(classes)}
    folded = {name.lower(): i for i, name in enumerate(classes)}
    items, missing, seen = [], [], {}
    for n, fields in _lines(path):
        rel = fields[0].replace("\\", "/")
        class_name = rel.partition("/")[0]
        label = index.get(class_name, folded.get(class_name.lower()))
        if len(fields) > 2 or label is None or "/" not in rel:
            raise ValueError(f"{path}:{n}: expected '<ClassName>/<video> [label]' with a class of classInd.txt, "
                             f"got {' '.join(fields)!r}")
        if len(fields) == 2 and fields[1] != str(label + 1):
            raise ValueError(f"{path}:{n}: label {fields[1]} disagrees with class {class_name!r} "
                             f"(number {label + 1} in classInd.txt)")
        if rel in seen:
            raise ValueError(f"{path}:{n}: video {rel} is listed twice (first on line {seen[rel]}); remove one line")
        seen[rel] = n
        item = make_item(root, rel, label)
        if not item.path.is_file():
            missing.append((n, item.path))
        items.append(item)
    if missing:
        n, first = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"{path}:{n}: video {first} not found{more}; check the dataset root {root}")
    return tuple(items)


def group_number(group: str) -> str | None:
    """``"Class/v_Class_g08"`` → ``"08"``; None for a group with no UCF101 group number."""
    match = _GROUP_NUMBER.search(group)
    return match.group(1) if match else None


def group_split(items: tuple[VideoItem, ...], fraction: float,
                rng: np.random.Generator) -> tuple[tuple[VideoItem, ...], tuple[VideoItem, ...]]:
    """Split ``items`` into (kept, held_out), holding out about ``fraction`` of the groups.

    Whole groups move together. When every group carries a UCF101 group number (``_gNN``), the same numbers
    are held out in every class, as UCF101's own test lists do (a held-out actor is unseen in every class, so
    validation measures what test will), except in a class that only held-out sources perform (mocap's runs come
    from one subject), which holds out its own share instead, so that no class leaves training; otherwise each
    class holds out its own groups. A class with a single group stays entirely in ``kept``. Deterministic for a
    given ``rng`` state; the order of ``items`` is kept.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    numbers = {item.group: group_number(item.group) for item in items}
    groups_by_class: dict[int, list[str]] = defaultdict(list)
    for item in items:
        if item.group not in groups_by_class[item.label]:
            groups_by_class[item.label].append(item.group)
    if items and None not in numbers.values():
        keys = sorted(set(numbers.values()))
        held_keys = set(_pick(keys, fraction, rng))
        held = {group for group, number in numbers.items() if number in held_keys}
        for label in sorted(groups_by_class):  # a class only the held-out sources perform would train on nothing:
            groups = groups_by_class[label]     # it holds out its own share of its groups instead
            if all(g in held for g in groups):
                held = (held - set(groups)) | set(_pick(sorted(groups), fraction, rng))
    else:
        held = {g for label in sorted(groups_by_class) for g in _pick(sorted(groups_by_class[label]), fraction, rng)}
    return (tuple(i for i in items if i.group not in held), tuple(i for i in items if i.group in held))


def _pick(keys: list[str], fraction: float, rng: np.random.Generator) -> list[str]:
    """About ``fraction`` of ``keys`` (at least one, never all), chosen by ``rng``."""
    count = min(len(keys) - 1, max(1, round(fraction * len(keys)))) if fraction > 0 else 0
    return [keys[i] for i in rng.permutation(len(keys))[:count]]


def _check_disjoint(train_list: Path, test_list: Path, shared: set[str]) -> None:
    """A video in both the train and the test list would be tested on after training on it: an error naming
    the lines."""
    if not shared:
        return
    where = {}
    for path in (train_list, test_list):
        for n, fields in _lines(path):
            rel = fields[0].replace("\\", "/")
            if rel in shared:
                where.setdefault(rel, []).append(f"{path}:{n}")
    rel = sorted(shared)[0]
    more = f" (and {len(shared) - 1} more)" if len(shared) > 1 else ""
    raise ValueError(f"video {rel} is in both the train and the test list ({', '.join(where[rel])}){more}; a "
                     "video must be on one side only")


def frozen_split(root: str | Path, classes: tuple[str, ...], videos: dict[str, list[str]]) -> Split:
    """The exact lists a run recorded (``Split.record()``), re-read under ``root``; videos under ``root`` that no
    list names are returned in ``unlisted``, never mixed in. A recorded video that is gone is an error."""
    root = Path(root)
    index = {name: i for i, name in enumerate(classes)}
    parts, missing = {}, []
    for name in ("train", "val", "test"):
        rels = videos.get(name) or []
        unknown = [rel for rel in rels if rel.partition("/")[0] not in index]
        if unknown:
            raise ValueError(f"the run's {name} list names {unknown[0]}, whose class is not in {root}; pass the "
                             "dataset the run was trained on")
        parts[name] = tuple(make_item(root, rel, index[rel.partition("/")[0]]) for rel in rels)
        missing += [item.path for item in parts[name] if not item.path.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"video {missing[0]} that the run was trained or tested with is gone{more}; "
                                f"restore it, or pass the dataset the run was trained on")
    listed = {rel for rels in videos.values() for rel in rels or []}
    try:
        on_disk = scan_class_folders(root)[1]
    except ValueError:
        on_disk = ()
    unlisted = tuple(item.rel for item in on_disk if item.rel not in listed)
    return Split(classes, parts["train"], parts["val"], parts["test"], unlisted)


def dataset_classes(root: str | Path, split_dir: str | Path | None = None) -> tuple[str, ...]:
    """The class list ``load_split`` gives: ``classInd.txt`` order when split files are found, else the sorted
    class folders that hold videos."""
    folder = find_split_dir(Path(root), split_dir)
    return read_class_index(folder / "classInd.txt") if folder else scan_class_folders(root)[0]


def load_split(root: str | Path, split: int = 1, split_dir: str | Path | None = None, val_fraction: float = 0.1,
               seed: int = 0, test_fraction: float = 0.3, videos: dict[str, list[str]] | None = None) -> Split:
    """The ``split``-th official UCF101 split when its files are found (see ``find_split_dir``), otherwise a
    deterministic class-stratified split of ``root/<Class>/<video>`` holding out ``test_fraction`` of each
    class's groups. ``val_fraction`` of the training groups become the validation set in both cases.

    ``videos`` (a run's recorded ``Split.record()``) freezes the split: exactly those lists, whatever was added
    or split differently since (see ``frozen_split``); the class list is found as without it."""
    root = Path(root)
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3 (UCF101 has three official splits), got {split}")
    if videos is not None:
        return frozen_split(root, dataset_classes(root, split_dir), videos)
    rng = np.random.default_rng(seed)
    folder = find_split_dir(root, split_dir)
    if folder is not None:
        classes = read_class_index(folder / "classInd.txt")
        lists = [folder / f"{kind}list{split:02d}.txt" for kind in ("train", "test")]
        for path in lists:
            if not path.is_file():
                raise FileNotFoundError(f"split file {path} not found beside {folder / 'classInd.txt'}")
        train, test = (read_split_list(path, root, classes) for path in lists)
        _check_disjoint(*lists, {i.rel for i in train} & {i.rel for i in test})
    else:
        classes, items = scan_class_folders(root)
        train, test = group_split(items, test_fraction, rng)
    train, val = group_split(train, val_fraction, rng)
    return Split(classes, train, val, test)


def fold_split(items: tuple[VideoItem, ...], fold: tuple[int, int],
               seed: int = 0) -> tuple[tuple[VideoItem, ...], tuple[VideoItem, ...]]:
    """(kept, held_out) for fold ``k`` of ``K`` (``fold = (k, K)``, 0 <= k < K): scikit-learn's
    ``StratifiedGroupKFold``, whole sources held out together — the UCF101 group number or subject when every
    item has one (the same actor held out in every class), else each item's ``group``."""
    from sklearn.model_selection import StratifiedGroupKFold

    k, folds = fold
    if not 0 <= k < folds or folds < 2:
        raise ValueError(f"fold {k} of {folds}: need --folds K >= 2 and 0 <= k < K")
    numbers = [group_number(item.group) for item in items]
    groups = numbers if None not in numbers else [item.group for item in items]
    if len(set(groups)) < folds:
        raise ValueError(f"--folds {folds} needs at least {folds} sources (subjects / groups) to hold out; the "
                         f"training data has {len(set(groups))}: use --folds {max(2, len(set(groups)))} or fewer")
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    _, held = list(splitter.split(np.zeros(len(items)), [i.label for i in items], groups))[k]
    held_set = set(held.tolist())
    return (tuple(item for i, item in enumerate(items) if i not in held_set),
            tuple(items[i] for i in sorted(held_set)))


def with_fold(split: Split, fold: tuple[int, int] | None, seed: int = 0) -> Split:
    """``split`` with train and validation re-drawn as fold ``fold = (k, K)`` of their union (``fold_split``);
    unchanged when ``fold`` is None. The test list is never touched."""
    if fold is None:
        return split
    kept, held = fold_split(split.train + split.val, fold, seed)
    return replace(split, train=kept, val=held)
