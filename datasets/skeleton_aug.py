"""Skeleton augmentation on raw keypoints (numpy, before the model's own normalisation).

Every transform acts on the sample key ``"keypoints"`` only (``keys = ("keypoints",)``), takes a raw
``(T, M, V, 4)`` (or one person's ``(T, V, 4)``) float array (x, y normalised to the frame, z, visibility) and a
seeded ``np.random.Generator``, and returns a new array of the same shape — so they compose in any order and may run before or
after the clip window is sampled. A "no person" joint (all four values 0) stays all zero: geometry is never
applied to it, so the model's detected mask survives augmentation. The global RNG is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from twostream.datasets.transforms import mirror_keypoints


class SkeletonTransform(Protocol):
    keys: tuple[str, ...]

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def _present(keypoints: np.ndarray) -> np.ndarray:
    """(T, [M,] V) bool: joints that hold a detection (any of x, y, z, visibility non-zero)."""
    return np.any(keypoints != 0, axis=-1)


def _resample(keypoints: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Pick frames at (fractional) ``positions``, nearest neighbour, clamped to the sequence."""
    index = np.clip(np.rint(positions), 0, len(keypoints) - 1).astype(np.int64)  # (T,)
    return keypoints[index].copy()

def _linear_about_centre(keypoints: np.ndarray, matrix: np.ndarray, offset: np.ndarray | float = 0.0) -> np.ndarray:
    """x, y of the present joints mapped by the 2x2 ``matrix`` about their mean, then shifted by ``offset``."""
    present = _present(keypoints)
    out = keypoints.copy()
    xy = keypoints[..., :2]  # (T, [M,] V, 2)
    centre = xy[present].mean(axis=0)  # (2,)
    moved = (xy - centre) @ matrix.T + centre + offset  # (T, [M,] V, 2)
    out[..., :2] = np.where(present[..., None], moved, 0.0)
    return out


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror the frame: x → 1 − x and swap left/right joints with the layout's flip permutation."""

    flip: tuple[int, ...]
    """``flip[j]`` is the joint that j becomes when mirrored (``JointLayout.flip``)."""
    p: float = 0.5
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if len(self.flip) != keypoints.shape[-2]:
            raise ValueError(f"flip permutation has {len(self.flip)} joints, keypoints have {keypoints.shape[-2]}")
        if rng.random() >= self.p:
            return keypoints.copy()
        return mirror_keypoints(keypoints, self.flip)


@dataclass(frozen=True)
class RandomAffine:
    """Small rotation, scale and shift of (x, y) about the skeleton's centre (mean of the present joints)."""

    degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05
    """Largest translation, in frame widths/heights."""
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not _present(keypoints).any():
            return keypoints.copy()
        angle = np.deg2rad(rng.uniform(-self.degrees, self.degrees))
        factor = rng.uniform(*self.scale)
        offset = rng.uniform(-self.shift, self.shift, size=2)
        rotation = factor * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return _linear_about_centre(keypoints, rotation, offset)


@dataclass(frozen=True)
class TemporalCrop:
    """Keep a random contiguous part (``min_fraction``..1 of the length) and stretch it back to T frames."""

    min_fraction: float = 0.8
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        length = len(keypoints)
        span = max(1.0, rng.uniform(self.min_fraction, 1.0) * length)
        start = rng.uniform(0.0, length - span)
        return _resample(keypoints, start + np.arange(length) * (span - 1) / max(1, length - 1))


@dataclass(frozen=True)
class SpeedChange:
    """Play the sequence ``factor`` times faster (> 1) or slower (< 1), keeping T frames (the end is held)."""

    factors: tuple[float, float] = (0.8, 1.25)
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        factor = rng.uniform(*self.factors)
        return _resample(keypoints, np.arange(len(keypoints)) * factor)


@dataclass(frozen=True)
class JointDropout:
    """Zero each present joint with probability ``p`` (a missed detection of that joint)."""

    p: float = 0.05
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        drop = rng.random(keypoints.shape[:-1]) < self.p  # (T, [M,] V)
        out = keypoints.copy()
        out[drop] = 0.0
        return out


@dataclass(frozen=True)
class BoneScale:
    """Another body: each bone's length times a random factor in ``factors`` (log-uniform; one factor for a
    bone and its mirror image, so the body stays symmetric), per person, the same in every frame. Joints move
    down the bone tree from the root, so a forearm follows its upper arm; a bone with an end the detector lost
    keeps its length. Cross-subject, bodies differ: on CMU mocap, where each exercise class is one subject in
    training and another in the test, it lifted ``pose_stgcnpp`` from 0.819 / 0.828 / 0.857 to 0.854 / 0.872 /
    0.887 in a first implementation and to 0.854 / 0.867 / 0.836 as written here, in ``bench/skeletons.py``
    (seeds 0 / 1 / 2; each seed draws other bodies; (0.67, 1.5) gave 0.879 / 0.862 / 0.847)."""

    parent: tuple[int, ...]
    """``parent[j]``: the joint j hangs from, its own index at the root (``pose.skeleton.parents``)."""
    flip: tuple[int, ...]
    """Left/right permutation (``JointLayout.flip``): mirrored bones share a factor."""
    factors: tuple[float, float] = (0.8, 1.25)
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if len(self.parent) != keypoints.shape[-2]:
            raise ValueError(f"bone tree has {len(self.parent)} joints, keypoints have {keypoints.shape[-2]}")
        people = keypoints if keypoints.ndim == 4 else keypoints[:, None]  # (T, M, V, 4)
        present = _present(people)  # (T, M, V)
        parent = np.asarray(self.parent)
        log_factor = rng.uniform(*np.log(self.factors), size=(people.shape[1], len(parent)))  # (M, V)
        factor = np.exp((log_factor + log_factor[:, list(self.flip)]) / 2)[..., None]  # (M, V, 1), symmetric
        xy = people[..., :2]
        both = (present & present[..., parent])[..., None]  # (T, M, V, 1): the bone to the parent is seen
        change = np.where(both, (factor - 1) * (xy - xy[..., parent, :]), 0.0)  # (T, M, V, 2); 0 at the root
        shift = change  # how far each joint moves: its bone's change plus its parent's move, down to the root
        while not np.array_equal(moved := change + shift[..., parent, :], shift, equal_nan=True):
            shift = moved
        out = people.copy()
        out[..., :2] = np.where(present[..., None], xy + shift, 0.0)
        return out if keypoints.ndim == 4 else out[:, 0]


@dataclass(frozen=True)
class ViewChange:
    """A different camera, in 2D: turning about the vertical axis by ``yaw`` shrinks x by cos(yaw) about the
    skeleton's centre (the person seen more from the side), plus a small shear (camera roll / tilt)."""

    yaw_degrees: float = 60.0
    shear: float = 0.15
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not _present(keypoints).any():
            return keypoints.copy()
        squeeze = np.cos(np.deg2rad(rng.uniform(0.0, self.yaw_degrees)))
        shear = rng.uniform(-self.shear, self.shear)
        return _linear_about_centre(keypoints, np.array([[squeeze, shear], [0.0, 1.0]]))


@dataclass(frozen=True)
class DetectorNoise:
    """What a pose detector does to a clean track: Gaussian jitter of ``sigma`` person heights per joint and
    frame (the person's height: the extent of its joints in y over the clip), and whole frames lost with
    probability ``missed_frames`` (nobody found). ``sigma``: the median MediaPipe jitter ``bench/jitter.py``
    measured on the shared clips (0.003-0.086 person heights, median 0.014); ``missed_frames``: MediaPipe misses
    the person in 0-25 % of frames on the shared clips (``bench/extract.py --detection``)."""

    sigma: float = 0.015
    missed_frames: float = 0.03
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        present = _present(keypoints)
        out = keypoints.copy()
        if not present.any():
            return out
        y = keypoints[..., 1][present]
        height = max(float(y.max() - y.min()), 1e-3)
        noise = rng.normal(0.0, self.sigma * height, keypoints.shape[:-1] + (2,))
        out[..., :2] = np.where(present[..., None], keypoints[..., :2] + noise, 0.0)
        out[rng.random(len(keypoints)) < self.missed_frames] = 0.0
        return out


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order with the same generator."""

    transforms: tuple[SkeletonTransform, ...]
    keys = ("keypoints",)

    def __call__(self, keypoints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.asarray(keypoints, dtype=np.float32)
        for transform in self.transforms:
            out = transform(out, rng)
        return out.astype(np.float32, copy=False)


def default_augment(flip: Sequence[int], parent: Sequence[int], *, mirror: bool = True) -> Compose:
    """The training augmentation of the keypoint stream for a layout with flip permutation ``flip`` and bone tree
    ``parent`` (``JointLayout.flip``, ``pose.skeleton.parents``).

    ``mirror=False`` leaves out ``HorizontalFlip``: for datasets whose classes are left/right specific
    (``wave_left`` vs ``wave_right``), where a mirrored sample would carry the other class's motion.
    """
    geometry = (BoneScale(tuple(parent), tuple(flip)), ViewChange(), RandomAffine(), TemporalCrop(), SpeedChange(),
                DetectorNoise(), JointDropout())
    return Compose(((HorizontalFlip(tuple(flip)),) if mirror else ()) + geometry)
