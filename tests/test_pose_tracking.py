"""Tracking people across frames: slots that hold, occlusion memory, the main actor first, real cartoon pairs."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.datasets.synth import render_people
from twostream.pose.backends import Persons, PoseConfig, boxes_of
from twostream.pose.extract import extract_video
from twostream.pose.tracking import PersonTracker, box_iou, rank_slots


def _person(cx: float, cy: float, size: float, v: int = 5) -> np.ndarray:
    """(V, 4) joints spread on a small square around (cx, cy), all visible."""
    offsets = np.linspace(-size / 2, size / 2, v)
    return np.stack([cx + offsets, cy + offsets[::-1], np.zeros(v), np.ones(v)], axis=1).astype(np.float32)


def _persons(*people: np.ndarray) -> Persons:
    kp = np.stack(people) if people else np.zeros((0, 5, 4), np.float32)
    return Persons(kp, kp.copy(), np.ones(len(kp), np.float32), boxes_of(kp))


def test_box_iou():
    a = np.array([[0, 0, 2, 2]], np.float32)
    b = np.array([[1, 1, 3, 3], [5, 5, 6, 6], [0, 0, 2, 2]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 0.0, 1.0]], rtol=1e-6)


def test_slots_follow_people_whatever_order_the_backend_gives_them():
    tracker = PersonTracker(slots=2)
    for t in range(10):  # frame 0 lists right first: it takes slot 0 and keeps it
        left, right = _person(0.2 + 0.01 * t, 0.5, 0.2), _person(0.8 - 0.01 * t, 0.5, 0.2)
        out = tracker.update(_persons(*((left, right) if t % 2 else (right, left))))
        assert out.keypoints[0, 0, 0] == pytest.approx(right[0, 0]) and out.keypoints[1, 0, 0] == pytest.approx(
            left[0, 0])
        assert out.track_ids.tolist() == [0, 1]


def test_a_person_hidden_for_a_few_frames_comes_back_with_its_id_and_slot():
    tracker = PersonTracker(slots=2, memory=5)
    a, b = _person(0.2, 0.5, 0.2), _person(0.7, 0.5, 0.2)
    tracker.update(_persons(a, b))
    for _ in range(3):
        out = tracker.update(_persons(b))  # a is hidden: its slot stays empty, b keeps slot 1
        assert out.track_ids.tolist() == [-1, 1] and not out.keypoints[0].any()
    assert tracker.update(_persons(b, a)).track_ids.tolist() == [0, 1]


def test_more_people_than_slots_keeps_the_surest():
    tracker = PersonTracker(slots=1)
    kp = np.stack([_person(0.2, 0.5, 0.2), _person(0.7, 0.5, 0.2)])
    out = tracker.update(Persons(kp, kp, np.array([0.4, 0.9], np.float32), boxes_of(kp)))
    assert out.keypoints.shape == (1, 5, 4) and out.keypoints[0, 0, 0] == pytest.approx(kp[1, 0, 0])


def test_rank_slots_puts_the_longest_largest_track_first_and_keeps_a_returning_track_in_its_slot():
    n = 6
    keypoints = np.zeros((n, 2, 5, 4), np.float32)
    track_ids = np.full((n, 2), -1)
    for t in range(n):  # track 7 (big, every frame) sits in slot 1; track 3 (small) in slot 0, absent in frame 2
        keypoints[t, 1], track_ids[t, 1] = _person(0.7, 0.5, 0.4), 7
        if t != 2:
            keypoints[t, 0], track_ids[t, 0] = _person(0.2, 0.5, 0.1), 3
    order = rank_slots(keypoints, track_ids)
    slotted = np.take_along_axis(track_ids, order, axis=1)
    assert slotted[:, 0].tolist() == [7] * n and slotted[:, 1].tolist() == [3, 3, -1, 3, 3, 3]


def test_both_cartoon_actors_are_tracked_with_the_main_actor_in_slot_0(tmp_path):
    video = tmp_path / "handshake.avi"
    truth = render_people("handshake", video, seed=5, frames=30)  # (T, P=2, J, 2) pixels, main actor first
    cache = extract_video(video, pose=PoseConfig(persons=2))
    assert cache.keypoints.shape == (30, 2, 33, 4) and cache.persons == 2
    assert (cache.person_counts >= 2).mean() >= 0.95
    for slot in range(2):
        ids = cache.track_ids[:, slot][cache.track_ids[:, slot] >= 0]
        assert np.count_nonzero(np.diff(ids)) <= 1  # at most one id switch per slot
    nose_x = cache.keypoints[:, :, 0, 0]  # (T, 2) normalised
    np.testing.assert_allclose(nose_x, truth[:, :, 0, 0] / 160, atol=0.05)  # slot 0 = main actor, slot 1 = partner


def test_a_person_back_after_the_memory_takes_their_old_slot_again():
    n = 9
    keypoints = np.zeros((n, 3, 5, 4), np.float32)
    track_ids = np.full((n, 3), -1)
    for t in range(n):  # 0: big, always there; 1 (middle) and 2 (left) leave after frame 2; 3 comes back left
        keypoints[t, 0], track_ids[t, 0] = _person(0.8, 0.5, 0.4), 0
        if t < 3:
            keypoints[t, 1], track_ids[t, 1] = _person(0.5, 0.5, 0.3), 1
            keypoints[t, 2], track_ids[t, 2] = _person(0.2, 0.5, 0.2), 2
        if t > 5:  # the tracker put the returning person in the lowest free slot, 1
            keypoints[t, 1], track_ids[t, 1] = _person(0.21, 0.5, 0.2), 3
    slotted = np.take_along_axis(track_ids, rank_slots(keypoints, track_ids), axis=1)
    assert slotted[:, 0].tolist() == [0] * n
    assert slotted[:, 1].tolist() == [1, 1, 1, -1, -1, -1, -1, -1, -1]
    assert slotted[:, 2].tolist() == [2, 2, 2, -1, -1, -1, 3, 3, 3]  # back in the left person's slot
