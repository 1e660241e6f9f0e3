"""Decoding: shapes and frame counts, clamping when the count lies, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.datasets.video import iter_frames, probe, read_clip, read_frames
from twostream.errors import VideoReadError


def test_probe_reports_the_written_video(tmp_path, make_video):
    path = make_video(tmp_path / "a.avi", num_frames=10, size=(64, 48), fps=20.0)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (10, 64, 48)
    assert info.fps == pytest.approx(20.0)


def test_read_frames_all_and_selected(tmp_path, make_video):
    path = make_video(tmp_path / "a.avi", num_frames=9, size=(40, 30))
    everything = read_frames(path)
    assert everything.shape == (9, 30, 40, 3) and everything.dtype == np.uint8
    picked = read_frames(path, [8, 0, 4, 4])
    assert picked.shape == (4, 30, 40, 3)
    np.testing.assert_array_equal(picked[0], everything[8])  # same decoder, same frame: identical pixels
    np.testing.assert_array_equal(picked[1], everything[0])
    np.testing.assert_array_equal(picked[2], picked[3])


def test_frames_are_rgb(tmp_path):
    import cv2

    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for _ in range(3):
        writer.write(np.tile(np.array([0, 0, 255], np.uint8), (32, 32, 1)))  # BGR red
    writer.release()
    mean = read_frames(path, [1])[0].reshape(-1, 3).mean(0)
    assert mean[0] > 200 and mean[2] < 50


def test_indices_past_the_end_are_clamped_and_reported(tmp_path, make_video):
    path = make_video(tmp_path / "a.avi", num_frames=6)
    clip = read_clip(path, [0, 3, 50])
    assert clip.frames.shape[0] == 3
    np.testing.assert_array_equal(clip.indices, [0, 3, 5])
    np.testing.assert_array_equal(clip.frames[2], read_frames(path, [5])[0])


def test_iter_frames_counts(tmp_path, make_video):
    path = make_video(tmp_path / "a.avi", num_frames=7, size=(32, 24))
    frames = list(iter_frames(path))
    assert len(frames) == 7 and frames[0].shape == (24, 32, 3)


def _corrupt(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def _truncated(path, make_video):
    full = make_video(path.with_name("full.avi"), num_frames=12).read_bytes()
    path.write_bytes(full[:300])  # the header only: no frame survives


@pytest.mark.parametrize("kind", ["missing", "empty", "corrupt", "truncated"])
@pytest.mark.parametrize("reader", [probe, read_frames, lambda p: list(iter_frames(p)),
                                    lambda p: read_frames(p, [0, 1])])
def test_bad_files_raise_video_read_error_naming_the_file(tmp_path, make_video, kind, reader):
    path = tmp_path / f"bad_{kind}.avi"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        _corrupt(path)
    elif kind == "truncated":
        _truncated(path, make_video)
    with pytest.raises(VideoReadError, match=f"bad_{kind}.avi"):
        reader(path)


def test_real_clips_decode(shared_data):
    clip = sorted((shared_data / "clips").glob("*.avi"))[0]
    info = probe(clip)
    frames = read_frames(clip, [0, info.num_frames - 1])
    assert frames.shape == (2, info.height, info.width, 3)


def test_truncated_file_whose_count_lies_is_clamped_to_decoded_frames(tmp_path, make_video):
    full = make_video(tmp_path / "full.avi", num_frames=20).read_bytes()
    half = tmp_path / "half.avi"
    half.write_bytes(full[: len(full) // 2])
    decodable = len(read_frames(half))
    assert 0 < decodable < 20
    clip = read_clip(half, [0, 19])  # the container may still claim 20 frames
    assert clip.frames.shape[0] == 2
    np.testing.assert_array_equal(clip.indices, [0, decodable - 1])
