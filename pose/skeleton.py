"""Joint layouts (MediaPipe-33, COCO-17): names, bones, the left/right flip map and the torso the models scale by.

Keypoints everywhere are float32 ``(..., T, V, 4)`` as x, y (normalised to the frame, 0..1), z, visibility;
a frame with no person is all zeros. The layouts here are the single source of joint order for extraction,
drawing, augmentation (horizontal flip) and the keypoint models.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from twostream.datasets.transforms import mirror_keypoints


@dataclass(frozen=True)
class JointLayout:
    """A skeleton's joint order and topology."""

    name: str
    """Registry name, stored in caches and checkpoints: ``"mediapipe33"``, ``"coco17"``."""
    joints: tuple[str, ...]
    """Joint names in index order; ``left_*`` / ``right_*`` are the person's own sides."""
    edges: tuple[tuple[int, int], ...]
    """Bones as pairs of joint indices (drawing, graph convolutions)."""
    flip: tuple[int, ...]
    """``flip[i]`` is the joint that ``i`` becomes in a mirrored image (left ↔ right)."""
    centre: tuple[int, ...]
    """Joints whose mean is the skeleton's centre (the hips)."""
    torso: tuple[tuple[int, ...], tuple[int, ...]]
    """(shoulder joints, hip joints): torso length is the distance between their means."""

    def __post_init__(self) -> None:
        n = len(self.joints)
        if sorted(self.flip) != list(range(n)):
            raise ValueError(f"layout {self.name!r}: flip must be a permutation of 0..{n - 1}, got {self.flip}")
        bad = [e for e in self.edges if not (0 <= e[0] < n and 0 <= e[1] < n)]
        if bad:
            raise ValueError(f"layout {self.name!r}: edges {bad} refer to joints outside 0..{n - 1}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint by name (``ValueError`` listing the names when unknown)."""
        if joint not in self.joints:
            raise ValueError(f"layout {self.name!r} has no joint {joint!r}; joints: {', '.join(self.joints)}")
        return self.joints.index(joint)


def parents(layout: JointLayout) -> tuple[int, ...]:
    """Each joint's parent in a breadth-first tree of the layout's bones rooted at its first centre joint
    (the root, and joints no bone reaches, are their own parent: a zero bone)."""
    neighbours: dict[int, list[int]] = {v: [] for v in range(layout.num_joints)}
    for i, j in layout.edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    parent = list(range(layout.num_joints))
    seen, queue = {layout.centre[0]}, deque([layout.centre[0]])
    while queue:
        v = queue.popleft()
        for w in neighbours[v]:
            if w not in seen:
                seen.add(w)
                parent[w] = v
                queue.append(w)
    return tuple(parent)


def _mirror_map(joints: tuple[str, ...]) -> tuple[int, ...]:
    """Left/right permutation derived from the names (``left_wrist`` ↔ ``right_wrist``, ``mouth_left`` ↔ …)."""
    swap = {"left": "right", "right": "left"}
    mirrored = ["_".join(swap.get(part, part) for part in name.split("_")) for name in joints]
    return tuple(joints.index(name) for name in mirrored)


_MP33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
# mediapipe.solutions.pose.POSE_CONNECTIONS, copied so that only landmarks.py imports mediapipe.
_MP33_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)
MEDIAPIPE_33 = JointLayout(
    name="mediapipe33", joints=_MP33_JOINTS, edges=_MP33_EDGES, flip=_mirror_map(_MP33_JOINTS),
    centre=(23, 24), torso=((11, 12), (23, 24)),
)

_COCO17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle",
)
_COCO17_EDGES = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
    (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
COCO_17 = JointLayout(
    name="coco17", joints=_COCO17_JOINTS, edges=_COCO17_EDGES, flip=_mirror_map(_COCO17_JOINTS),
    centre=(11, 12), torso=((5, 6), (11, 12)),
)

_LAYOUTS = {layout.name: layout for layout in (MEDIAPIPE_33, COCO_17)}

# For each COCO-17 joint, the MediaPipe-33 joint with the same name.
MEDIAPIPE33_TO_COCO17: tuple[int, ...] = tuple(_MP33_JOINTS.index(name) for name in _COCO17_JOINTS)


def get_layout(name: str) -> JointLayout:
    """The layout registered under ``name`` (``ValueError`` listing the available ones otherwise)."""
    if name not in _LAYOUTS:
        raise ValueError(f"unknown joint layout {name!r}; available: {', '.join(sorted(_LAYOUTS))}")
    return _LAYOUTS[name]


def mediapipe33_to_coco17(keypoints: np.ndarray) -> np.ndarray:
    """Select the 17 COCO joints from MediaPipe-33 keypoints: ``(..., 33, C) -> (..., 17, C)``."""
    if keypoints.shape[-2] != MEDIAPIPE_33.num_joints:
        raise ValueError(f"expected MediaPipe-33 keypoints (..., 33, C), got shape {keypoints.shape}")
    return keypoints[..., MEDIAPIPE33_TO_COCO17, :]


def flip_keypoints(keypoints: np.ndarray, layout: JointLayout) -> np.ndarray:
    """Mirror ``(..., V, 4)`` keypoints horizontally: x → 1 - x and left/right joints swapped.

    Missing joints (all four values 0) stay zeros. ``datasets.transforms.mirror_keypoints`` with the layout's
    flip map.
    """
    return mirror_keypoints(keypoints, layout.flip)
