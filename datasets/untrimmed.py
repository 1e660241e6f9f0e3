"""Untrimmed cartoon videos with ActivityNet-style ground truth: one actor performs a sequence of the cartoon
actions, separated by idle stretches (standing with small fidgets, walking out of the frame and back in). In
about half the videos a second, smaller person (a bystander) walks across the background once or twice; the
bystander performs no action, so the ground truth is the main actor's alone (``"bystanders"`` records when).

Layout written by ``generate_untrimmed(out, ...)``::

    OUT/videos/<id>.avi      MJPG, 25 fps; id = ``u<NNN>_g<NN>`` (video, actor)
    OUT/annotations.json     {"version", "database": {id: {"duration", "subset", "fps", "actor",
                              "annotations": [{"segment": [start_s, end_s], "label"}],
                              "bystanders": [[start_s, end_s], ...]}}}
    OUT/synth.json           seed and parameters of the run

Each video has its own actor (look, scene, placement, speed, noise, shake as in ``synth``); subsets go by actor,
so ``testing`` videos show actors that ``training`` never saw. ``twostream trim OUT/annotations.json OUT/videos
CLIPS --subset training,validation`` cuts the training clips. Deterministic in ``seed``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from twostream.datasets.actions import ACTIONS, Action, get_action
from twostream.datasets.cartoon import Pose, draw_background, draw_figure, draw_flag, random_look, skeleton_points
from twostream.datasets.synth import DEFAULT_SIZE, FPS, _check_size, _write_clip, _write_json

FORMAT_VERSION = 1
SUBSETS = ("training", "validation", "testing")
BLEND_S = 0.3
"""Seconds over which the body moves from one part's pose into the next one's."""
BYSTANDER_SCALE = 0.5
"""The bystander's height relative to the main actor's (further back: the main actor stays the larger one)."""


@dataclass(frozen=True)
class Pass:
    """A bystander walking across the background from ``start`` to ``end`` seconds."""

    start: float
    end: float
    rightwards: bool


@dataclass(frozen=True)
class Part:
    """One stretch of a video's script: an action name, ``idle``, ``walk_in``, ``walk_out`` or ``away``."""

    kind: str
    start: float
    """Seconds."""
    end: float


def script(rng: np.random.Generator, duration: float, classes: Sequence[str]) -> list[Part]:
    """The sequence of parts filling ``duration`` seconds: idle or walking in, then actions (3-7 s) separated by
    idle stretches (1.5-4 s) of which some leave the frame and come back; ends idle or walking out."""
    parts: list[Part] = []

    def add(kind: str, length: float) -> None:
        start = parts[-1].end if parts else 0.0
        parts.append(Part(kind, start, min(duration, start + length)))

    add("walk_in", rng.uniform(1.5, 2.5)) if rng.random() < 0.5 else add("idle", rng.uniform(1.0, 3.0))
    while parts[-1].end < duration - 5.0:
        add(str(rng.choice(list(classes))), rng.uniform(3.0, 7.0))
        if parts[-1].end >= duration - 1.5:
            break
        if rng.random() < 0.25 and parts[-1].end < duration - 9.0:
            add("walk_out", 1.5)
            add("away", rng.uniform(0.5, 2.0))
            add("walk_in", 1.5)
        add("idle", rng.uniform(1.5, 4.0))
    if parts[-1].end < duration:
        add("walk_out" if rng.random() < 0.3 and duration - parts[-1].end >= 1.5 else "idle",
            duration - parts[-1].end)
    return parts


def _idle(t: float, rng_phase: float) -> Pose:
    """Standing with small fidgets: arms sway a little, weight shifts."""
    s = math.sin(2 * math.pi * (0.35 * t + rng_phase))
    return Pose(r_shoulder=0.15 + 0.06 * s, l_shoulder=0.15 - 0.05 * s, r_elbow=0.05 + 0.1 * max(0.0, s),
                torso_tilt=0.025 * math.sin(2 * math.pi * (0.2 * t + 2 * rng_phase)))


def _walk(t: float) -> Pose:
    s = math.sin(2 * math.pi * 1.6 * t)
    return Pose(r_fwd=0.45 * max(0.0, s), l_fwd=0.45 * max(0.0, -s), r_shoulder=0.15 + 0.15 * s,
                l_shoulder=0.15 - 0.15 * s)


def _blend(a: Pose, b: Pose, w: float) -> Pose:
    return Pose(**{f.name: (1 - w) * getattr(a, f.name) + w * getattr(b, f.name) for f in fields(Pose)})


@dataclass(frozen=True)
class _Actor:
    """Per-video variation (as ``synth``'s per-clip one): placement, speed, amplitude, camera and noise."""

    scale: float
    home: tuple[float, float]
    speed: float
    amp: float
    noise: float
    shake: float
    phase: float


def _random_actor(rng: np.random.Generator, size: tuple[int, int]) -> _Actor:
    width, height = size
    return _Actor(scale=height * rng.uniform(0.60, 0.68),
                  home=(width * rng.uniform(0.35, 0.65), height * rng.uniform(0.93, 0.97)),
                  speed=rng.uniform(0.8, 1.25), amp=rng.uniform(0.85, 1.1), noise=rng.uniform(0, 5),
                  shake=rng.uniform(0, 1.2), phase=rng.uniform(0, 1))


def _pose_and_x(part: Part, t: float, actor: _Actor, width: int) -> tuple[Pose, float, Action | None]:
    """The body's pose, its ground x in pixels and the action drawn (for its flag) at time ``t`` in ``part``."""
    off = -0.4 * actor.scale if actor.home[0] < width / 2 else width + 0.4 * actor.scale  # the nearer side
    home = actor.home[0]
    if part.kind in ("walk_in", "walk_out", "away"):
        u = (t - part.start) / max(part.end - part.start, 1e-6)
        frac = {"walk_in": 1 - u, "walk_out": u, "away": 1.0}[part.kind]
        return _walk(t), home + frac * (off - home), None
    if part.kind == "idle":
        return _idle(t, actor.phase), home, None
    action = get_action(part.kind)
    return action.pose(actor.phase + action.hz * actor.speed * (t - part.start), actor.amp), home, action


def bystander_passes(rng: np.random.Generator, duration: float) -> list[Pass]:
    """No bystander in about half the videos, else one or two passes of 4-7 s at random times."""
    if rng.random() < 0.5:
        return []
    passes = []
    for _ in range(int(rng.integers(1, 3))):
        length = float(rng.uniform(4.0, 7.0))
        start = float(rng.uniform(0.0, max(0.0, duration - length)))
        passes.append(Pass(round(start, 3), round(min(duration, start + length), 3), bool(rng.random() < 0.5)))
    return sorted(passes, key=lambda p: p.start)


def _draw_bystanders(img: np.ndarray, passes: Sequence[Pass], look, actor: _Actor, t: float,
                     dx: float, dy: float) -> None:
    """The bystanders in view at ``t``, marching across at 72 % of the actor's floor height (further back)."""
    width = img.shape[1]
    scale = actor.scale * BYSTANDER_SCALE
    for p in passes:
        if p.start <= t < p.end:
            across = (t - p.start) / (p.end - p.start)
            x = width * (-0.05 + 1.1 * (across if p.rightwards else 1 - across)) + dx
            pts = skeleton_points(look, ACTIONS["march"].pose(1.4 * t, 1.0), (x, actor.home[1] * 0.72 + dy), scale)
            draw_figure(img, pts, look, scale)


def _frames(parts: list[Part], actor: _Actor, look, background: np.ndarray, rng: np.random.Generator,
            num_frames: int, passes: Sequence[Pass] = (), bystander_look=None
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(frame (H, W, 3) uint8 BGR, dummy joints (1, 2)) for each frame of the script."""
    height, width = background.shape[:2]
    k = 0
    for i in range(num_frames):
        t = i / FPS
        while k + 1 < len(parts) and t >= parts[k].end:
            k += 1
        pose, x, action = _pose_and_x(parts[k], t, actor, width)
        if k > 0 and t - parts[k].start < BLEND_S:  # move smoothly out of the previous part's last pose
            before, _, _ = _pose_and_x(parts[k - 1], parts[k].start, actor, width)
            pose = _blend(before, pose, (t - parts[k].start) / BLEND_S)
        dx, dy = rng.normal(0, actor.shake, 2) if actor.shake > 0 else (0.0, 0.0)
        img = np.roll(background, (int(round(dy)), int(round(dx))), axis=(0, 1))
        _draw_bystanders(img, passes, bystander_look, actor, t, dx, dy)
        pts = skeleton_points(look, pose, (x + dx, actor.home[1] + dy), actor.scale)
        draw_figure(img, pts, look, actor.scale)
        if action is not None and action.flag is not None:
            draw_flag(img, pts, "right", action.flag, actor.scale)
        if actor.noise > 0:
            img = np.clip(img + rng.normal(0, actor.noise, img.shape), 0, 255).astype(np.uint8)  # (H, W, 3)
        yield img, np.zeros((1, 2), np.float32)


def subset_of(actor: int, num_actors: int) -> str:
    """About 60 % of the actors train, 20 % validate, 20 % test (each at least one from 3 actors up)."""
    num_test = max(1, round(0.2 * num_actors)) if num_actors >= 2 else 0
    num_val = max(1, round(0.2 * num_actors)) if num_actors >= 3 else 0
    if actor >= num_actors - num_test:
        return "testing"
    return "validation" if actor >= num_actors - num_test - num_val else "training"


@dataclass(frozen=True)
class UntrimmedSummary:
    root: Path
    annotations: Path
    videos: tuple[str, ...]
    subsets: dict[str, int]
    """Videos per subset."""
    segments: int
    seconds: float
    """Total video length."""


def generate_untrimmed(out: str | Path, *, videos: int, duration: tuple[float, float] = (30.0, 90.0),
                       seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE, classes: Sequence[str] | None = None,
                       progress: Callable[[int, int], None] | None = None) -> UntrimmedSummary:
    """Render ``videos`` untrimmed videos of ``duration`` = (shortest, longest) seconds each (layout in the module
    docstring); ``size`` is (width, height). ``progress(done, total)`` is called after each video."""
    names = tuple(classes) if classes is not None else tuple(ACTIONS)
    for name in names:
        get_action(name)
    if videos < 1:
        raise ValueError(f"--untrimmed {videos}: render at least 1 video")
    low, high = duration
    if not 10.0 <= low <= high:
        raise ValueError(f"duration {low:g}-{high:g} s: give at least 10 s (shortest <= longest), e.g. 30-90")
    _check_size(size, 1)
    root = Path(out)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    database, total_s = {}, 0.0
    for i in range(videos):
        vid = f"u{i:03d}_g{i:02d}"
        rng = np.random.default_rng([seed, i, zlib.crc32(b"untrimmed")])
        length = round(float(rng.uniform(low, high)) * FPS) / FPS
        parts = script(rng, length, names)
        actor = _random_actor(rng, size)
        background = draw_background(np.random.default_rng([seed, i, 2]), size, actor.home[1])
        look = random_look(np.random.default_rng([seed, i, 1]))
        extra = np.random.default_rng([seed, i, 3])  # its own stream: the actor's script does not change
        passes = bystander_passes(extra, length)
        _write_clip(root / "videos" / f"{vid}.avi", _frames(parts, actor, look, background, rng,
                                                            int(round(length * FPS)), passes, random_look(extra)),
                    size)
        database[vid] = {"duration": length, "subset": subset_of(i, videos), "fps": FPS, "actor": i,
                         "annotations": [{"segment": [round(p.start, 3), round(p.end, 3)], "label": p.kind}
                                         for p in parts if p.kind in ACTIONS],
                         "bystanders": [[p.start, p.end] for p in passes]}
        total_s += length
        if progress is not None:
            progress(i + 1, videos)
    annotations = root / "annotations.json"
    _write_json(annotations, {"version": "twostream-untrimmed-1", "database": database})
    _write_json(root / "synth.json", {"format_version": FORMAT_VERSION, "kind": "untrimmed", "seed": seed,
                                      "videos": videos, "duration": [low, high], "classes": list(names),
                                      "fps": FPS, "size": list(size)})
    subsets = {s: sum(e["subset"] == s for e in database.values()) for s in SUBSETS}
    return UntrimmedSummary(root, annotations, tuple(database), subsets,
                            sum(len(e["annotations"]) for e in database.values()), total_s)
