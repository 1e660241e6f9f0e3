"""The live demo's memory stays bounded: ring buffers overwrite, the result slot holds one value."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from twostream.fusion.live.buffers import BufferSpec, DualFrameBuffer, FrameRing, LatestSlot


def test_ring_is_bounded_and_reads_oldest_to_newest():
    ring = FrameRing(4, (2,))
    nbytes = ring.nbytes
    for i in range(40):  # 10x capacity
        ring.push(np.full(2, i, np.float32))
        assert len(ring) == min(i + 1, 4)
    assert ring.nbytes == nbytes  # no growth: preallocated
    np.testing.assert_array_equal(ring.window(4)[:, 0], [36, 37, 38, 39])
    np.testing.assert_array_equal(ring.window(2, step=3)[:, 0], [36, 39])


def test_ring_refuses_a_window_it_does_not_hold():
    ring = FrameRing(4, (1,))
    ring.push(np.zeros(1))
    with pytest.raises(ValueError, match="holds 1"):
        ring.window(2)


def test_window_is_a_copy():
    ring = FrameRing(3, (1,))
    for i in range(3):
        ring.push(np.array([i], np.float32))
    window = ring.window(3)
    ring.push(np.array([99], np.float32))
    np.testing.assert_array_equal(window[:, 0], [0, 1, 2])


def test_dual_buffer_snapshot_ends_at_the_same_frame_with_different_lengths():
    buf = DualFrameBuffer(BufferSpec.every(3, (3, 2, 2)), BufferSpec.every(5, (4, 4), step=2))
    assert buf.keypoints.capacity == 9  # (5 - 1) * 2 + 1 frames, never more
    nbytes = buf.nbytes
    for i in range(100):
        buf.push(i, i / 30, video=np.full((3, 2, 2), i, np.float32), keypoints=np.full((4, 4), i, np.float32))
        assert buf.ready == (i >= 8)
    assert buf.nbytes == nbytes
    snap = buf.snapshot()
    assert snap.frame_index == 99
    assert snap.video.shape == (3, 3, 2, 2) and snap.keypoints.shape == (5, 4, 4)
    np.testing.assert_array_equal(snap.video[:, 0, 0, 0], [97, 98, 99])
    np.testing.assert_array_equal(snap.keypoints[:, 0, 0], [91, 93, 95, 97, 99])


def test_dual_buffer_stores_only_the_streams_in_use():
    buf = DualFrameBuffer(None, BufferSpec.every(2, (33, 4)))
    assert buf.video is None
    buf.push(0, 0.0, keypoints=np.zeros((33, 4)))
    buf.push(1, 0.1, keypoints=np.ones((33, 4)))
    snap = buf.snapshot()
    assert snap.video is None and snap.keypoints.shape == (2, 33, 4)
    with pytest.raises(ValueError, match="keypoints="):
        buf.push(2, 0.2, video=np.zeros((3, 2, 2)))


def test_snapshot_before_full_is_refused():
    buf = DualFrameBuffer(BufferSpec.every(4, (1,)), None)
    buf.push(0, 0.0, video=np.zeros(1))
    with pytest.raises(ValueError, match="not full"):
        buf.snapshot()


def test_latest_slot_never_grows_and_counts_overwrites():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(1000):
        slot.put(i)
    assert slot.overwritten == 999
    assert slot.take(timeout=0) == 999
    assert slot.take(timeout=0) is None  # taken: nothing queued behind it
    assert slot.peek() == 999


def test_an_unbounded_slot_hands_every_value_on_in_order():
    slot: LatestSlot[int] = LatestSlot(maxlen=None)  # the pose lanes' results: their producer bounds them
    for i in range(5):
        slot.put(i)
    assert slot.peek() == 4 and not slot.wait_taken(timeout=0)
    assert [slot.take(timeout=0) for _ in range(6)] == [0, 1, 2, 3, 4, None]
    assert slot.overwritten == 0 and slot.wait_taken(timeout=0)


def test_latest_slot_hands_values_across_threads():
    slot: LatestSlot[int] = LatestSlot()
    got = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(timeout=5)))
    consumer.start()
    slot.put(7)
    consumer.join(5)
    assert got == [7]


def test_a_window_spans_the_same_source_time_when_frames_are_dropped():
    spec = BufferSpec.every(5, (1,), step=2)  # picks 0, 2, 4, 6, 8 of the last 9 source frames
    every, dropping = DualFrameBuffer(None, spec), DualFrameBuffer(None, spec)
    kept = [i for i in range(60) if i % 3 != 1]  # a slow machine drops every third frame
    for i in range(60):
        every.push(i, i / 30, keypoints=np.full((1,), i, np.float32))
        if i in kept:
            dropping.push(i, i / 30, keypoints=np.full((1,), i, np.float32))
    np.testing.assert_array_equal(every.snapshot().frames["keypoints"], [51, 53, 55, 57, 59])
    frames = dropping.snapshot().frames["keypoints"]  # the nearest frames it has, over the same 9 frames
    np.testing.assert_array_equal(frames, [51, 53, 54, 57, 59])
    np.testing.assert_array_equal(dropping.snapshot().keypoints[:, 0], frames)  # items match their indices
    # counting pushes instead would have stretched the window over 13 source frames (0.43 s instead of 0.27 s)
    assert frames[-1] - frames[0] == 8


def test_a_dropping_source_is_ready_once_its_frames_cover_the_window():
    buf = DualFrameBuffer(BufferSpec.every(4, (1,), step=3), None)  # 10 source frames
    for n, i in enumerate(range(0, 12, 3)):  # every third frame arrives
        buf.push(i, i / 30, video=np.zeros(1, np.float32))
        assert buf.ready == (i >= 9), n  # 4 pushes cover frames 0..9, where counting pushes would need 10
    np.testing.assert_array_equal(buf.snapshot().frames["video"], [0, 3, 6, 9])


def test_frame_indices_must_increase():
    buf = DualFrameBuffer(None, BufferSpec.every(2, (1,)))
    buf.push(5, 0.0, keypoints=np.zeros(1))
    with pytest.raises(ValueError, match="must increase"):
        buf.push(5, 0.1, keypoints=np.zeros(1))


def test_a_grid_stream_keeps_only_the_frames_its_windows_pick():
    spec = BufferSpec((1,), (2, 7, 12), 15, grid=True)  # 3 picks every 5th frame, sliding in steps of 5
    buf = DualFrameBuffer(spec, None)
    kept = []
    for i in range(60):
        if buf.wants("video", i):
            kept.append(i)
        buf.push(i, i / 30, video=np.full(1, i, np.float32))  # a frame it does not want is ignored
        if buf.ready:
            snap = buf.snapshot()
            np.testing.assert_array_equal(snap.frames["video"], snap.video[:, 0])
            assert np.all((snap.frames["video"] - 2) % 5 == 0) and np.all(np.diff(snap.frames["video"]) == 5)
    assert kept == list(range(2, 60, 5))  # never preprocessed: 4 frames in 5
    assert buf.video.capacity <= 5  # about clip_len items, not span
    np.testing.assert_array_equal(buf.snapshot().frames["video"], [47, 52, 57])


def test_take_until_returns_the_last_value_put_before_the_producer_finished():
    slot, done = LatestSlot(), threading.Event()
    assert slot.take_until(done, timeout=0) == (None, False)  # the producer runs: just nothing yet
    slot.put("last")
    done.set()
    assert slot.take_until(done, timeout=0) == ("last", False)
    assert slot.take_until(done, timeout=0) == (None, True)
    assert slot.take_until(None, timeout=0) == (None, False)  # no producer to wait for: never ended
