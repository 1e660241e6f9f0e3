"""Frame selection (table-driven) and the clip preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twostream.datasets.sampling import multi_clip_indices, uniform_indices
from twostream.datasets.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD, frames_to_tensor, train_frames_to_tensor,
)


@pytest.mark.parametrize("num_frames, clip_len, expected", [
    (1, 4, [0, 0, 0, 0]),                      # a single frame repeats
    (3, 6, [0, 0, 1, 1, 2, 2]),                # T < clip_len: every frame repeated evenly
    (5, 8, [0, 0, 1, 2, 2, 3, 4, 4]),
    (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),          # T == clip_len: each frame once
    (100, 4, [12, 37, 62, 87]),                # T > clip_len: segment centres
    (10, 1, [5]),
])
def test_uniform_indices_deterministic_table(num_frames, clip_len, expected):
    out = uniform_indices(num_frames, clip_len)
    assert out.dtype == np.int64 and out.shape == (clip_len,)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("num_frames, clip_len", [(1, 8), (5, 8), (8, 8), (9, 8), (300, 16), (17, 16)])
def test_jitter_stays_in_range_and_in_its_segment(num_frames, clip_len):
    rng = np.random.default_rng(0)
    edges = np.linspace(0, num_frames, clip_len + 1)
    for _ in range(200):
        out = uniform_indices(num_frames, clip_len, rng)
        assert out.shape == (clip_len,) and out.min() >= 0 and out.max() < num_frames
        assert np.all(np.diff(out) >= 0)
        assert np.all(out >= np.floor(edges[:-1])) and np.all(out < np.maximum(np.ceil(edges[1:]), 1))


def test_jitter_varies_and_is_reproducible_without_touching_global_rng():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = [uniform_indices(300, 16, np.random.default_rng(s)) for s in range(5)]
    b = [uniform_indices(300, 16, np.random.default_rng(s)) for s in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len({tuple(x) for x in a}) > 1
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(uniform_indices(300, 16), uniform_indices(300, 16))


def test_multi_clip_indices():
    clips = multi_clip_indices(100, 4, 3)
    assert clips.shape == (3, 4)
    np.testing.assert_array_equal(multi_clip_indices(100, 4, 1)[0], uniform_indices(100, 4))
    assert len({tuple(c) for c in clips}) == 3 and clips.max() < 100
    assert multi_clip_indices(2, 4, 5).max() <= 1


@pytest.mark.parametrize("args", [(0, 4), (10, 0), (-1, 3)])
def test_bad_sampling_arguments_name_the_value(args):
    with pytest.raises(ValueError, match=str(min(args))):
        uniform_indices(*args)


def test_frames_to_tensor_shape_and_normalisation():
    frames = np.full((3, 48, 64, 3), 255, np.uint8)
    x = frames_to_tensor(frames, 32, IMAGENET_MEAN, IMAGENET_STD)
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x[0, :, 5, 5], expected)


def test_frames_to_tensor_centre_crops_after_resizing_the_short_side():
    frames = np.zeros((1, 20, 60, 3), np.uint8)
    frames[:, :, :15] = 255  # left quarter white: outside the centre third
    x = frames_to_tensor(frames, 10, (0, 0, 0), (1, 1, 1))
    assert x.shape == (1, 3, 10, 10) and x.max() < 0.05


def test_bad_frames_are_rejected():
    with pytest.raises(ValueError, match="uint8"):
        frames_to_tensor(np.zeros((2, 8, 8, 3), np.float32), 4, IMAGENET_MEAN, IMAGENET_STD)


def test_train_variant_is_seeded_and_identical_across_frames():
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frames = np.stack([frame] * 4)
    outs = [train_frames_to_tensor(frames, 24, KINETICS_MEAN, KINETICS_STD,
                                   generator=torch.Generator().manual_seed(s)) for s in range(8)]
    x, _ = outs[0]
    assert x.shape == (4, 3, 24, 24)
    assert all(torch.equal(x[0], x[t]) for t in range(4))  # same crop and flip for every frame
    again, _ = train_frames_to_tensor(frames, 24, KINETICS_MEAN, KINETICS_STD,
                                      generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, x)
    assert {flipped for _, flipped in outs} == {True, False}
    assert not all(torch.equal(outs[0][0], o[0]) for o in outs[1:])


def test_dense_indices_every_k_centred_random_and_short_videos():
    from twostream.datasets.sampling import dense_clip_indices, dense_indices

    np.testing.assert_array_equal(dense_indices(20, 4, 3), [5, 8, 11, 14])  # span 10, centred: 5 frames either side
    np.testing.assert_array_equal(dense_indices(5, 4, 3), [0, 3, 1, 4])  # shorter than the span: loops (i mod 5)
    np.testing.assert_array_equal(dense_clip_indices(8, 4, 3, 2), [[0, 3, 6, 1], [0, 3, 6, 1]])  # loops too
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(50):
        idx = dense_indices(20, 4, 3, rng)  # training: a random start, each pick jittered within its 3 frames
        start = idx - 3 * np.arange(4)  # (4,) start + jitter in 0..2
        assert start.max() - start.min() <= 2 and start.min() >= 0 and idx.max() <= 19
        starts.add(tuple(start))
    assert len(starts) > 10  # jittered, not 11 fixed clips
    clips = dense_clip_indices(20, 4, 3, 3)
    np.testing.assert_array_equal(clips[:, 0], [1, 5, 9])  # starts spread over the 11 possible ones
    np.testing.assert_array_equal(dense_clip_indices(20, 4, 3, 1)[0], dense_indices(20, 4, 3))


def test_automatic_dense_interval_covers_the_median_training_video_and_is_needed_before_use():
    from twostream.datasets.sampling import Sampling

    auto = Sampling("dense", frame_interval=None)
    with pytest.raises(ValueError, match="automatic --frame-interval"):
        auto.indices(100, 8)
    # median 76 frames, 32 picks: K = 2 spans 63 frames, K = 3 would span 94 (more than the median video)
    fitted = auto.measured([(60, 30.0), (76, 30.0), (120, None)], clip_len=32)
    assert (fitted.frame_interval, fitted.fps, fitted.span_s) == (2, 30.0, None)
    assert auto.measured([(30, None)] * 5, clip_len=32).frame_interval == 1  # 30-frame sequences: every frame
    assert auto.measured([], clip_len=32).frame_interval == 1
    assert Sampling("dense", 2).measured([(500, 25.0)], clip_len=8).frame_interval == 2  # a given K stays
