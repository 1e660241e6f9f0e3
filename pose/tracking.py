"""People across frames: detections → tracks (Hungarian assignment) → M person slots.

``PersonTracker.update(persons)`` matches this frame's people to the live tracks with
``scipy.optimize.linear_sum_assignment`` on a cost of box IoU and keypoint distance, remembers a lost track for
``memory`` frames (a person hidden behind another comes back with the same id), and puts each track in a slot:
a track keeps its slot for its whole life, a new track takes the lowest free slot. That is what live needs (slots
never jump). Offline, ``rank_slots`` then reorders a whole video so that slot 0 is the main actor (the track
present longest and largest), then the others, and a track that left and came back keeps its slot when it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from twostream.pose.backends import PoseConfig, Persons, open_estimator

_NO_MATCH = 1e6


@dataclass(frozen=True)
class Tracked:
    """One frame in slots: slot s holds the person of track ``track_ids[s]`` (-1 and zeros when empty)."""

    keypoints: np.ndarray
    """float32 (M, V, 4)."""
    world: np.ndarray
    """float32 (M, V, 4)."""
    scores: np.ndarray
    """float32 (M,); 0 for an empty slot."""
    track_ids: np.ndarray
    """int64 (M,); -1 for an empty slot."""


@dataclass
class _Track:
    id: int
    slot: int
    box: np.ndarray
    keypoints: np.ndarray
    last_seen: int


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, 4) x (Q, 4) boxes (x0, y0, x1, y1) → (P, Q) intersection over union."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (P, Q, 2)
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])  # (P, Q, 2)
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)  # (P, Q)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)  # (P,)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)  # (Q,)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def keypoint_distance(a: np.ndarray, b: np.ndarray, boxes_a: np.ndarray) -> np.ndarray:
    """(P, V, 4) x (Q, V, 4) → (P, Q) mean joint distance in x, y, in units of ``a``'s box diagonal."""
    diff = np.linalg.norm(a[:, None, :, :2] - b[None, :, :, :2], axis=-1).mean(-1)  # (P, Q)
    diagonal = np.linalg.norm(boxes_a[:, 2:] - boxes_a[:, :2], axis=-1)  # (P,)
    return diff / np.maximum(diagonal[:, None], 1e-3)


@dataclass
class PersonTracker:
    """Online tracker for one video; ``update`` once per processed frame, in order."""

    slots: int
    memory: int = 15
    """Processed frames a lost track is remembered (and its slot held) before it is dropped."""
    max_cost: float = 1.5
    """Matches costlier than this (1 - IoU + keypoint distance) start a new track instead."""
    _tracks: list[_Track] = field(default_factory=list)
    _frame: int = -1
    _next_id: int = 0

    def __post_init__(self) -> None:
        if self.slots < 1 or self.memory < 0:
            raise ValueError(f"tracker needs slots >= 1 and memory >= 0, got {self.slots}, {self.memory}")

    def _match(self, persons: Persons) -> dict[int, _Track]:
        """Detection index → live track, by least total cost."""
        if not self._tracks or not len(persons):
            return {}
        boxes = np.stack([t.box for t in self._tracks])  # (K, 4)
        keypoints = np.stack([t.keypoints for t in self._tracks])  # (K, V, 4)
        cost = 1.0 - box_iou(boxes, persons.boxes) + keypoint_distance(keypoints, persons.keypoints, boxes)
        cost[cost > self.max_cost] = _NO_MATCH  # (K, P)
        rows, cols = linear_sum_assignment(cost)
        return {int(c): self._tracks[r] for r, c in zip(rows, cols) if cost[r, c] < _NO_MATCH}

    def _free_slot(self, busy: set[int]) -> int | None:
        """The lowest slot no track holds; else the slot of the longest-lost track (forgotten); None if all busy."""
        held = {t.slot for t in self._tracks}
        free = [s for s in range(self.slots) if s not in held]
        if free:
            return free[0]
        lost = sorted((t for t in self._tracks if t.slot not in busy), key=lambda t: t.last_seen)
        if not lost:
            return None
        self._tracks.remove(lost[0])
        return lost[0].slot

    def update(self, persons: Persons) -> Tracked:
        """Match, start and forget tracks for this frame's ``persons``; returns the frame in slots."""
        self._frame += 1
        self._tracks = [t for t in self._tracks if self._frame - t.last_seen <= self.memory]
        matched = self._match(persons)
        for index in np.argsort(-persons.scores, kind="stable"):  # the surest new people first
            if int(index) in matched:
                continue
            slot = self._free_slot(set(t.slot for t in matched.values()))
            if slot is None:
                continue  # more people than slots: the least sure are left out
            matched[int(index)] = _Track(self._next_id, slot, persons.boxes[index], persons.keypoints[index], 0)
            self._tracks.append(matched[int(index)])
            self._next_id += 1
        num_joints = persons.keypoints.shape[1]
        out = Tracked(np.zeros((self.slots, num_joints, 4), np.float32),
                      np.zeros((self.slots, num_joints, 4), np.float32),
                      np.zeros(self.slots, np.float32), np.full(self.slots, -1, np.int64))
        for index, track in matched.items():
            track.box, track.keypoints, track.last_seen = persons.boxes[index], persons.keypoints[index], self._frame
            out.keypoints[track.slot] = persons.keypoints[index]
            out.world[track.slot] = persons.world[index]
            out.scores[track.slot] = persons.scores[index]
            out.track_ids[track.slot] = track.id
        return out


def _nearest_slot(free: list[int], placed: np.ndarray, frames: np.ndarray, centres: np.ndarray) -> int:
    """Of the ``free`` slots, the one whose occupant nearest in time to ``frames`` stood nearest the track."""
    best, best_distance = free[0], np.inf
    for slot in free:
        occupied = np.flatnonzero(~np.isnan(placed[:, slot, 0]))  # frames where someone is already in that slot
        if not len(occupied):
            continue
        gaps = np.abs(occupied[:, None] - frames[None, :])  # (K, F)
        k, f = np.unravel_index(np.argmin(gaps), gaps.shape)
        distance = float(np.linalg.norm(placed[occupied[k], slot] - centres[f]))
        if distance < best_distance:
            best, best_distance = slot, distance
    return best


def rank_slots(keypoints: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """The slot order of a whole tracked video so that slot 0 is its main actor.

    ``keypoints`` (N, M, V, 4) and ``track_ids`` (N, M) as ``PersonTracker`` wrote them. Tracks are ranked by
    frames present x mean box area; each, in rank order, gets a slot free over its whole life: of those, the one
    whose nearest occupant in time stood nearest (a person lost longer than the tracker's memory comes back as a
    new track, and takes their old slot again), else the lowest. Returns ``order`` (N, M):
    ``new[n, s] = old[n, order[n, s]]``.
    """
    n, m = track_ids.shape
    present = track_ids >= 0  # (N, M)
    xy = keypoints[..., :2]  # (N, M, V, 2)
    area = np.prod(xy.max(-2) - xy.min(-2), axis=-1) * present  # (N, M)
    centre = (xy.max(-2) + xy.min(-2)) / 2  # (N, M, 2)
    placed = np.full((n, m, 2), np.nan)  # (N, M, 2) centre of the person put in new slot s at frame n
    weight = {int(t): float(area[track_ids == t].sum()) for t in np.unique(track_ids[present])}
    taken = np.zeros((n, m), bool)  # (N, M) new slot s busy at frame n
    order = np.tile(np.arange(m), (n, 1))  # (N, M)
    target = np.full((n, m), -1, np.int64)  # (N, M) new slot of old slot s at frame n
    for track in sorted(weight, key=lambda t: -weight[t]):
        frames, old = np.nonzero(track_ids == track)
        free = [s for s in range(m) if not taken[frames, s].any()]
        slot = _nearest_slot(free, placed, frames, centre[frames, old]) if free else None
        if slot is None:  # no slot free for the whole life: frame by frame
            for f, o in zip(frames, old):
                s = int(np.argmin(taken[f]))
                taken[f, s], target[f, o] = True, s
            continue
        taken[frames, slot] = True
        target[frames, old] = slot
        placed[frames, slot] = centre[frames, old]
    for f in range(n):
        empty_new = [s for s in range(m) if not taken[f, s]]
        empty_old = [s for s in range(m) if target[f, s] < 0]
        target[f, empty_old] = empty_new
        order[f, target[f]] = np.arange(m)
    return order


class PoseStream:
    """Pose and tracking for one video or camera stream: RGB frames in order → ``Tracked`` (M slots) each.

    The API live and predict use: ``with PoseStream(PoseConfig(persons=2)) as stream: stream.process(rgb, ms)``.
    Slots are online (a track keeps its slot while it lives; ``rank_slots`` is for whole videos).
    """

    def __init__(self, config: PoseConfig = PoseConfig()) -> None:
        self.config = config
        self.estimator = open_estimator(config)
        self.tracker = PersonTracker(config.persons)

    @property
    def layout(self) -> str:
        return self.estimator.layout

    def process(self, frame_rgb: np.ndarray, timestamp_ms: int) -> Tracked:
        return self.tracker.update(self.estimator.process(frame_rgb, timestamp_ms))

    def close(self) -> None:
        self.estimator.close()

    def __enter__(self) -> PoseStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
