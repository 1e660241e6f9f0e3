from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from twostream.errors import CacheError
from twostream.pose import cache as cache_mod
from twostream.pose.cache import (FORMAT_VERSION, OldCacheWarning, PoseCache, cache_path_for, is_fresh, keypoints_at,
                                  load_cache, load_keypoints, save_cache, select_persons, video_stamp)


def _cache(video: Path | None = None, indices=(0, 2, 4, 6), detected=(True, False, True, True)) -> PoseCache:
    n = len(indices)
    landmarks = np.zeros((n, 33, 4), np.float32)
    for row, (index, seen) in enumerate(zip(indices, detected)):
        landmarks[row] = (index + 1) if seen else 0.0  # each row recognisable by its frame index
    size, mtime = video_stamp(video) if video else (0, 0)
    return PoseCache.from_single(landmarks=landmarks, world=landmarks * 2, frame_indices=np.asarray(indices, np.int64),
                     detected=np.asarray(detected, bool), fps=25.0, num_frames=7, width=64, height=48, every=2,
                     mediapipe_version="0.10.21", video_size=size, video_mtime_ns=mtime)


def test_cache_path_sits_beside_the_video(tmp_path):
    assert cache_path_for(tmp_path / "a" / "clip.avi") == tmp_path / "a" / "clip.pose.npz"


def test_round_trip_keeps_every_field(tmp_path):
    original = _cache()
    path = save_cache(original, tmp_path / "clip.pose.npz")
    loaded = load_cache(path)
    for name in ("keypoints", "world", "scores", "track_ids", "frame_indices", "detected"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert (loaded.fps, loaded.num_frames, loaded.width, loaded.height, loaded.every) == (25.0, 7, 64, 48, 2)
    assert (loaded.layout, loaded.format_version, loaded.backend, loaded.model) == ("mediapipe33", 2,
                                                                                   "mediapipe", "full")
    assert loaded.keypoints.shape == (4, 1, 33, 4) and loaded.persons == 1
    assert loaded.detected_fraction == pytest.approx(0.75)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_unknown_version_missing_key_and_garbage_are_refused(tmp_path):
    future = save_cache(replace(_cache(), format_version=99), tmp_path / "future.pose.npz")
    with pytest.raises(CacheError, match=r"future\.pose\.npz.*format_version 99.*--force"):
        load_cache(future)
    partial = tmp_path / "partial.pose.npz"
    np.savez_compressed(partial, format_version=np.int64(FORMAT_VERSION), keypoints=np.zeros((1, 1, 33, 4)))
    with pytest.raises(CacheError, match=r"partial\.pose\.npz lacks .*world.*--force"):
        load_cache(partial)
    garbage = tmp_path / "garbage.pose.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CacheError, match=r"garbage\.pose\.npz is unreadable.*--force"):
        load_cache(garbage)


def test_a_write_killed_half_way_leaves_no_cache(tmp_path, monkeypatch):
    def write_half_then_die(f, **arrays):
        f.write(b"PK\x03\x04" + b"\0" * 1000)  # the first bytes of a zip, then the process "dies"
        raise KeyboardInterrupt

    path = tmp_path / "clip.pose.npz"
    monkeypatch.setattr(cache_mod.np, "savez_compressed", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        save_cache(_cache(), path)
    assert list(tmp_path.iterdir()) == []


def test_a_write_killed_half_way_keeps_the_previous_cache(tmp_path, monkeypatch):
    path = save_cache(_cache(), tmp_path / "clip.pose.npz")
    before = path.read_bytes()
    monkeypatch.setattr(cache_mod.np, "savez_compressed", lambda f, **a: (f.write(b"junk"), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        save_cache(replace(_cache(), fps=1.0), path)
    assert path.read_bytes() == before and load_cache(path).fps == 25.0
    assert [p.name for p in tmp_path.iterdir()] == ["clip.pose.npz"]


@pytest.mark.parametrize("wanted, rows", [
    ([0, 1, 2, 3, 4, 5, 6], [0, 0, 2, 2, 4, 4, 6]),  # in between → the earlier of two equally near frames
    ([6, 7, 100], [6, 6, 6]),  # past the end → the last processed frame
    ([4, 0, 4], [4, 0, 4]),  # any order, repeats
])
def test_keypoints_at_takes_the_nearest_processed_frame(wanted, rows):
    out = keypoints_at(_cache(), np.array(wanted))
    assert out.shape == (len(wanted), 1, 33, 4) and out.dtype == np.float32
    expected = [0.0 if r == 2 else r + 1 for r in rows]  # frame 2 had no person → zeros
    assert out[:, 0, 0, 0].tolist() == expected


def test_touching_or_changing_the_video_makes_the_cache_stale(tmp_path, make_video):
    video = make_video(tmp_path / "clip.avi")
    save_cache(_cache(video), cache_path_for(video))
    assert is_fresh(video) and is_fresh(video, every=2) and not is_fresh(video, every=1)
    assert is_fresh(video, model="full", persons=1) and not is_fresh(video, model="heavy")
    assert not is_fresh(video, persons=2)
    np.testing.assert_array_equal(load_keypoints(video, [4])[0], np.full((1, 33, 4), 5.0))
    st = os.stat(video)
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert not is_fresh(video)
    with pytest.raises(CacheError, match="twostream extract"):
        load_keypoints(video, [0])
    save_cache(_cache(video), cache_path_for(video))
    with open(video, "ab") as f:
        f.write(b"\0")
    os.utime(video, ns=(st.st_atime_ns, cache_mod.load_cache(cache_path_for(video)).video_mtime_ns))
    assert not is_fresh(video)  # same mtime, other size


def test_a_version_1_cache_loads_as_one_person_with_a_note(tmp_path):
    landmarks = np.random.default_rng(0).uniform(0, 1, (3, 33, 4)).astype(np.float32)
    detected = np.array([True, False, True])
    path = tmp_path / "old.pose.npz"
    np.savez_compressed(path, landmarks=landmarks, world=landmarks * 2, frame_indices=np.arange(3),
                        detected=detected, fps=25.0, num_frames=3, width=64, height=48, every=1, model_complexity=1,
                        mediapipe_version="0.10.21", video_size=1, video_mtime_ns=2,
                        extractor="mediapipe.solutions.pose", layout="mediapipe33", format_version=1)
    with pytest.warns(OldCacheWarning, match=r"format 1.*extract .* --force"):
        cache = load_cache(path)
    assert cache.keypoints.shape == (3, 1, 33, 4) and cache.persons == 1 and cache.model == "full"
    assert cache.detected.tolist() == [True, False, True] and cache.track_ids[:, 0].tolist() == [0, -1, 0]
    np.testing.assert_array_equal(cache.keypoints[:, 0], landmarks)
    assert keypoints_at(cache, [1]).shape == (1, 1, 33, 4) and not keypoints_at(cache, [1]).any()


def test_select_persons_pads_cuts_and_takes_the_main_actor():
    kp = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)  # (T, M=3, V, 4)
    assert select_persons(kp, 2).shape == (2, 2, 5, 4) and (select_persons(kp, 2) == kp[:, :2]).all()
    four = select_persons(kp, 4)
    assert four.shape == (2, 4, 5, 4) and (four[:, :3] == kp).all() and not four[:, 3].any()
    assert (select_persons(kp, None) == kp[:, 0]).all() and select_persons(kp[:, 0], 1).shape == (2, 1, 5, 4)
    with pytest.raises(ValueError, match=r"\(T, M, V, 4\)"):
        select_persons(np.zeros((2, 4)), 1)
