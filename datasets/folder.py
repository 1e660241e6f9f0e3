"""A dataset laid out as ``root/<ClassName>/<video>`` (UCF101, HMDB51): class names, items, UCF101 groups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg")

_GROUP = re.compile(r"^(.*?_g\d+)_")  # UCF101: v_ApplyEyeMakeup_g08_c01 -> v_ApplyEyeMakeup_g08


@dataclass(frozen=True)
class VideoItem:
    """One labelled video of a dataset."""

    path: Path
    """Absolute or root-joined path of the video file."""
    label: int
    """0-based index into the dataset's sorted (or classInd.txt) class list."""
    rel: str
    """Path relative to the dataset root with forward slashes, e.g. ``"ApplyEyeMakeup/v_..._g08_c01.avi"``."""
    group: str
    """Videos sharing a group (same actor / scene) must stay on one side of a split; ``"<class>/<group_of>"``."""


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def group_of(name: str) -> str:
    """UCF101 group of a file name (``v_ApplyEyeMakeup_g08_c01.avi`` → ``v_ApplyEyeMakeup_g08``); a name with
    no ``_gNN_`` part is its own group (its stem)."""
    stem = Path(name).stem
    match = _GROUP.match(stem)
    return match.group(1) if match else stem


def make_item(root: Path, rel: str, label: int) -> VideoItem:
    class_name, _, file_name = rel.rpartition("/")
    return VideoItem(root / rel, label, rel, f"{class_name}/{group_of(file_name)}")


def scan_class_folders(root: str | Path) -> tuple[tuple[str, ...], tuple[VideoItem, ...]]:
    """Classes (sorted names of the sub-folders of ``root`` that hold videos) and every video, sorted by ``rel``.

    Raises ``FileNotFoundError`` / ``NotADirectoryError`` for a bad ``root`` and ``ValueError`` naming the
    folder when no video is found.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"dataset root is not a folder: {root}")
    found = {
        folder.name: sorted(p.name for p in folder.iterdir() if is_video(p))
        for folder in root.iterdir() if folder.is_dir() and not folder.name.startswith(".")
    }
    classes = tuple(sorted(name for name, files in found.items() if files))
    if not classes:
        raise ValueError(
            f"no videos found in {root}: expected {root}/<ClassName>/<video> with one of "
            f"{', '.join(VIDEO_EXTENSIONS)}"
        )
    items = tuple(
        make_item(root, f"{name}/{file}", label) for label, name in enumerate(classes) for file in found[name]
    )
    return classes, items
