"""The cartoon-actor dataset: drawn people performing actions, written in the UCF101 layout with split files.

The actions themselves (pose functions, ``ACTIONS``, and the class pairs that give late fusion something to do)
live in ``twostream.datasets.actions``; this module renders them and writes the dataset.

Layout written by ``generate(out, ...)``::

    OUT/<class>/v_<class>_gGG_cCC.avi          MJPG, 25 fps; group GG = one actor (same look), clip CC
    OUT/<class>/v_<class>_gGG_cCC.joints.npy   float32 (T, J, 2) pixel x, y of the drawn joints (main actor)
    OUT/<class>/v_<class>_gGG_cCC.people.npy   interactions only: float32 (T, P, J, 2), main actor first
    OUT/classInd.txt  trainlist01.txt  testlist01.txt   UCF101 split files (whole groups go to test)
    OUT/joints.json   {"format_version", "joints": [J names, MediaPipe spelling]}
    OUT/synth.json    seed, classes and parameters of the run

Everything is deterministic in ``seed``: every clip draws from its own ``np.random.default_rng`` keyed on
(seed, class, group, clip), never the global RNG, so ``--classes`` subsets reproduce the same clips.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

# ACTIONS and the pairs stay importable from here: the CLI, benches and tests take them from ``synth``.
from twostream.datasets.actions import ACTIONS, PIXEL_PAIRS, SKELETON_PAIRS, Action, get_action
from twostream.datasets.cartoon import JOINTS, Look, draw_background, draw_figure, draw_flag, joint_array, \
    random_look, skeleton_points

FORMAT_VERSION = 1
FPS = 25.0
DEFAULT_SIZE = (160, 120)


@dataclass(frozen=True)
class Clip:
    """Per-clip variation, drawn from the clip's RNG: placement, timing, camera and corruption."""

    scale: float           # pixels per body unit (standing height)
    ground: tuple[float, float]  # pixel point between the feet on the floor
    hz: float              # cycles per second
    phase: float           # cycles at frame 0
    amp: float             # motion amplitude factor
    noise: float           # std of Gaussian pixel noise (0..255 scale)
    shake: float           # std of camera shake in pixels
    occluder: tuple[int, int, int, int, int, int]  # x, y, w, h, first frame, last frame (w = 0: none)
    frames: int = 0        # clip length (the bystander crosses the frame once)
    walk_right: bool = True  # the bystander's direction


def _random_clip(rng: np.random.Generator, action: Action, size: tuple[int, int], frames: int) -> Clip:
    width, height = size
    scale = height * rng.uniform(0.60, 0.68)
    ground = (width * rng.uniform(0.5 - 0.18, 0.5 + 0.18), height * rng.uniform(0.93, 0.97))
    if action.partner is not None:  # the pair, not the main actor, is centred
        ground = (width / 2 - 0.42 * scale + width * rng.uniform(-0.05, 0.05), ground[1])
    occluder = (0, 0, 0, 0, 0, 0)
    if rng.random() < 0.5:  # a box over a small part of the body for a few frames
        w, h = (int(scale * rng.uniform(0.08, 0.16)) for _ in range(2))
        x = int(ground[0] + scale * rng.uniform(-0.15, 0.15) - w / 2)
        y = int(ground[1] - scale * rng.uniform(0.1, 0.7) - h / 2)
        start = int(rng.integers(0, max(1, frames - 4)))
        occluder = (x, y, w, h, start, start + int(rng.integers(2, 7)))
    return Clip(scale=scale, ground=ground, hz=action.hz * rng.uniform(0.8, 1.25), phase=rng.uniform(0, 1),
                amp=rng.uniform(0.85, 1.1), noise=rng.uniform(0, 5), shake=rng.uniform(0, 1.2), occluder=occluder,
                frames=frames, walk_right=bool(rng.random() < 0.5))


_PARTNER_SCALE = 0.85  # the partner stands a little further back: the main actor is the larger one
_BYSTANDER_SCALE = 0.5


def _others(action: Action, clip: Clip, looks: Sequence[Look], t: int, width: int,
            dx: float, dy: float) -> list[tuple[dict[str, np.ndarray], Look, float]]:
    """The partner and / or bystander of frame ``t``, drawn before the main actor: (points, look, scale)."""
    phase = clip.phase + clip.hz * t / FPS
    people = []
    if action.bystander:  # walks across the background, one side to the other over the clip
        across = t / max(1, clip.frames - 1)
        x = width * (-0.05 + 1.1 * (across if clip.walk_right else 1 - across)) + dx
        scale = clip.scale * _BYSTANDER_SCALE
        pose = ACTIONS["march"].pose(1.4 * t / FPS, 1.0)
        people.append((skeleton_points(looks[-1], pose, (x, clip.ground[1] * 0.72 + dy), scale), looks[-1], scale))
    if action.partner is not None:
        x = clip.ground[0] + action.gap(phase, clip.amp) * clip.scale + dx
        scale = clip.scale * _PARTNER_SCALE
        pts = skeleton_points(looks[1], action.partner(phase, clip.amp), (x, clip.ground[1] + dy), scale)
        people.append((pts, looks[1], scale))
    return people


def _frames(action: Action, looks: Sequence[Look], background: np.ndarray, clip: Clip, rng: np.random.Generator,
            frames: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (frame (H, W, 3) uint8 BGR, joints (P, J, 2) float32 pixels, main actor first) for each frame."""
    look = looks[0]
    for t in range(frames):
        pose = action.pose(clip.phase + clip.hz * t / FPS, clip.amp)
        dx, dy = rng.normal(0, clip.shake, 2) if clip.shake > 0 else (0.0, 0.0)
        ground = (clip.ground[0] + dx, clip.ground[1] + dy)
        pts = skeleton_points(look, pose, ground, clip.scale)
        img = np.roll(background, (int(round(dy)), int(round(dx))), axis=(0, 1))
        others = _others(action, clip, looks, t, img.shape[1], dx, dy)
        for other_pts, other_look, other_scale in others:
            draw_figure(img, other_pts, other_look, other_scale)
        draw_figure(img, pts, look, clip.scale)
        if action.flag is not None:
            draw_flag(img, pts, "right", action.flag, clip.scale)
        x, y, w, h, first, last = clip.occluder
        if w and first <= t <= last:
            cv2.rectangle(img, (x, y), (x + w, y + h), (90, 90, 90), -1)
        if clip.noise > 0:
            img = np.clip(img + rng.normal(0, clip.noise, img.shape), 0, 255).astype(np.uint8)  # (H, W, 3)
        yield img, np.stack([joint_array(pts), *(joint_array(p) for p, _, _ in others[::-1])])


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def _write_clip(path: Path, stream: Iterator[tuple[np.ndarray, np.ndarray]], size: tuple[int, int]) -> np.ndarray:
    """Encode the frames as MJPG under a temporary name, then move it into place; returns (T, P, J, 2) joints."""
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")  # keeps .avi: OpenCV picks the container by suffix
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {tmp}; check that the folder is writable")
    joints = []
    try:
        for img, pts in stream:
            writer.write(img)
            joints.append(pts)
    finally:
        writer.release()
    os.replace(tmp, path)
    return np.stack(joints)  # (T, P, J, 2)


def render_video(action: str, path: str | os.PathLike, *, seed: int, frames: int = 40,
                 size: tuple[int, int] = DEFAULT_SIZE, look: Look | None = None) -> np.ndarray:
    """Render one clip of ``action`` to ``path`` (MJPG .avi) and return its joints: float32 (T, J, 2) pixels.

    ``size`` is (width, height). The actor's look and scene come from ``seed`` unless ``look`` is given. The
    joints are returned, not written; ``generate`` saves them beside each video.
    """
    return render_people(action, path, seed=seed, frames=frames, size=size, look=look)[:, 0]


def render_people(action: str, path: str | os.PathLike, *, seed: int, frames: int = 40,
                  size: tuple[int, int] = DEFAULT_SIZE, look: Look | None = None) -> np.ndarray:
    """``render_video`` returning every person's joints: float32 (T, P, J, 2), the main actor first, then the
    partner and / or the bystander of an interaction class."""
    _check_size(size, frames)
    look = look if look is not None else random_look(np.random.default_rng([seed, 1]))
    return _render(get_action(action), Path(path), look=look, scene_key=[seed, 2],
                   clip_key=[seed, zlib.crc32(action.encode())], frames=frames, size=size)


def _render(action: Action, path: Path, *, look: Look, scene_key: list[int], clip_key: list[int], frames: int,
            size: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(clip_key)
    clip = _random_clip(rng, action, size, frames)
    background = draw_background(np.random.default_rng(scene_key), size, clip.ground[1])
    others = [random_look(np.random.default_rng([*clip_key, 3, p])) for p in range(action.people - 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_clip(path, _frames(action, [look, *others], background, clip, rng, frames), size)


def _check_size(size: Sequence[int], frames: int) -> None:
    if len(size) != 2 or min(size) < 32:
        raise ValueError(f"size {tuple(size)} is too small; give WIDTHxHEIGHT of at least 32x32, e.g. 160x120")
    if frames < 1:
        raise ValueError(f"frames={frames} must be at least 1")


@dataclass(frozen=True)
class SynthSummary:
    """What ``generate`` wrote: the dataset root, its classes and the relative paths of each split."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[str, ...]
    test: tuple[str, ...]
    frames: int
    size: tuple[int, int]
    seed: int

    @property
    def num_videos(self) -> int:
        return len(self.train) + len(self.test)


def _groups(videos_per_class: int, clips_per_group: int | None = None) -> tuple[list[tuple[int, int]], set[int]]:
    """(group, clip) numbers (1-based) of one class, and the groups that go to test (about 30 %, at least one).

    ``clips_per_group`` clips per actor; ``None`` gives 2 from 4 videos per class up, else 1.
    """
    per_group = clips_per_group or (2 if videos_per_class >= 4 else 1)
    clips = [(i // per_group + 1, i % per_group + 1) for i in range(videos_per_class)]
    num_groups = clips[-1][0]
    num_test = max(1, round(0.3 * num_groups))
    return clips, set(range(num_groups - num_test + 1, num_groups + 1))


def generate(out: str | os.PathLike, *, videos_per_class: int = 6, seed: int = 0, frames: int = 40,
             size: tuple[int, int] = DEFAULT_SIZE, classes: Sequence[str] | None = None,
             progress: Callable[[int, int], None] | None = None,
             clips_per_group: int | None = None) -> SynthSummary:
    """Write the cartoon-actor dataset to ``out`` (layout in the module docstring); ``size`` is (width, height).

    Group ``gGG`` is the same actor (look and scene) in every class, and whole groups go to the test list, so test
    clips show actors never seen in training. ``clips_per_group`` is the number of clips each actor performs of
    each class (default: 2 from 4 videos per class up, else 1); 1 gives the most actors for a video budget, which
    is what an RGB stream trained from scratch needs to stop recognising actors. ``progress(done, total)`` is
    called after each video.
    """
    if clips_per_group is not None and not 1 <= clips_per_group <= videos_per_class // 2:
        raise ValueError(f"clips_per_group={clips_per_group} must be between 1 and videos_per_class // 2 = "
                         f"{videos_per_class // 2}, so that train and test both get an actor")
    names = tuple(classes) if classes is not None else tuple(ACTIONS)
    for name in names:
        get_action(name)
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"classes {list(names)} must be a non-empty list without repeats")
    if videos_per_class < 2:
        raise ValueError(f"videos_per_class={videos_per_class}: need at least 2 so that train and test both "
                         f"get every class")
    _check_size(size, frames)
    root = Path(out)
    clips, test_groups = _groups(videos_per_class, clips_per_group)
    looks = {g: random_look(np.random.default_rng([seed, g, 1])) for g, _ in clips}
    train, test, total = [], [], len(names) * len(clips)
    for label, name in enumerate(names, start=1):
        for g, c in clips:
            rel = f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi"
            joints = _render(get_action(name), root / rel, look=looks[g], scene_key=[seed, g, 2],
                             clip_key=[seed, zlib.crc32(name.encode()), g, c], frames=frames, size=size)
            _write_atomic((root / rel).with_suffix(".joints.npy"), lambda tmp: np.save(tmp, joints[:, 0]))
            if joints.shape[1] > 1:  # every person of an interaction, main actor first: (T, P, J, 2)
                _write_atomic((root / rel).with_suffix(".people.npy"), lambda tmp: np.save(tmp, joints))
            (test if g in test_groups else train).append((rel, label))
            if progress is not None:
                progress(len(train) + len(test), total)
    _write_split_files(root, names, train, test)
    _write_json(root / "joints.json", {"format_version": FORMAT_VERSION, "joints": list(JOINTS)})
    _write_json(root / "synth.json", {
        "format_version": FORMAT_VERSION, "seed": seed, "classes": list(names), "videos_per_class": videos_per_class,
        "clips_per_group": max(c for _, c in clips), "frames": frames, "fps": FPS, "size": list(size),
        "test_groups": sorted(test_groups),
        "pixel_pairs": [list(p) for p in PIXEL_PAIRS], "skeleton_pairs": [list(p) for p in SKELETON_PAIRS],
    })
    return SynthSummary(root, names, tuple(r for r, _ in train), tuple(r for r, _ in test), frames, tuple(size), seed)


def _write_text(path: Path, lines: Sequence[str]) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text("".join(f"{line}\n" for line in lines)))


def _write_json(path: Path, data: dict) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def _write_split_files(root: Path, classes: Sequence[str], train: list[tuple[str, int]],
                       test: list[tuple[str, int]]) -> None:
    """UCF101's ``classInd.txt`` (``1 name``), ``trainlist01.txt`` (``rel label``), ``testlist01.txt`` (``rel``)."""
    _write_text(root / "classInd.txt", [f"{i} {name}" for i, name in enumerate(classes, start=1)])
    _write_text(root / "trainlist01.txt", [f"{rel} {label}" for rel, label in train])
    _write_text(root / "testlist01.txt", [rel for rel, _ in test])
