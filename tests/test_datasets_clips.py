"""Clip datasets: shapes, one set of frame indices for video and keypoints, seeding, test-time clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from twostream.datasets.clips import ClipDataset, find_unreadable
from twostream.datasets.folder import make_item
from twostream.datasets.sampling import Sampling, multi_clip_indices, uniform_indices
from twostream.datasets.skeletons import AugmentedKeypoints, SkeletonDataset
from twostream.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD
from twostream.errors import VideoReadError

V = 5


class RecordingKeypoints:
    """Stub ``load_keypoints``: records the indices it was given; keypoint x encodes the frame index."""

    def __init__(self):
        self.calls = []

    def __call__(self, path, indices):
        self.calls.append((str(path), np.asarray(indices).copy()))
        out = np.ones((len(indices), V, 4), np.float32)
        out[:, :, 0] = 0.1 + np.asarray(indices, np.float32)[:, None] / 100  # x encodes the frame index
        out[:, :, 1] = np.arange(V) / 10  # y encodes the joint
        return out


@pytest.fixture
def items(tmp_path, make_video):
    specs = [("Walk", "v_Walk_g01_c01.avi", 10), ("Walk", "v_Walk_g02_c01.avi", 5), ("Run", "v_Run_g01_c01.avi", 13)]
    for cls, name, frames in specs:
        make_video(tmp_path / cls / name, num_frames=frames, size=(40, 32))
    return [make_item(tmp_path, f"{c}/{n}", int(c == "Walk")) for c, n, _ in specs]


def _dataset(items, **kw):
    base = dict(clip_len=8, size=24, mean=IMAGENET_MEAN, std=IMAGENET_STD, train=False)
    return ClipDataset(items, **{**base, **kw})


def test_eval_sample_shapes(items):
    ds = _dataset(items)
    sample = ds[1]
    assert set(sample) == {"video", "label", "video_index"}
    assert sample["video"].shape == (8, 3, 24, 24) and sample["video"].dtype == torch.float32
    assert (sample["label"], sample["video_index"]) == (1, 1)


@pytest.mark.parametrize("train", [False, True])
def test_video_and_keypoints_use_the_same_indices(items, train, monkeypatch):
    import twostream.datasets.clips as clips

    read = []
    real_read_clip = clips.read_clip
    monkeypatch.setattr(clips, "read_clip", lambda p, i: read.append(np.asarray(i).copy()) or real_read_clip(p, i))
    stub = RecordingKeypoints()
    ds = _dataset(items, keys=("video", "keypoints"), load_keypoints=stub, train=train)
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["video"].shape == (8, 3, 24, 24) and sample["keypoints"].shape == (8, V, 4)
        assert stub.calls[-1][0] == str(items[i].path)
        np.testing.assert_array_equal(stub.calls[-1][1], read[-1])
        np.testing.assert_allclose(sample["keypoints"][:, 1, 0].numpy(), 0.1 + read[-1] / 100, rtol=1e-6)
        if not train:
            np.testing.assert_array_equal(read[-1], uniform_indices((10, 5, 13)[i], 8))


def test_keypoints_only_dataset_needs_no_decoding(items, monkeypatch):
    import twostream.datasets.clips as clips

    monkeypatch.setattr(clips, "read_clip", lambda *a: pytest.fail("decoded a video for a keypoints-only dataset"))
    stub = RecordingKeypoints()
    sample = _dataset(items, keys=("keypoints",), load_keypoints=stub)[2]
    assert set(sample) == {"keypoints", "label", "video_index"}
    np.testing.assert_array_equal(stub.calls[0][1], uniform_indices(13, 8))


def test_keypoints_key_without_loader_is_an_error(items):
    with pytest.raises(ValueError, match="load_keypoints"):
        _dataset(items, keys=("video", "keypoints"))


def test_train_items_are_reproducible_per_epoch_across_workers(items):
    stub = RecordingKeypoints()
    ds = _dataset(items, keys=("keypoints",), load_keypoints=stub, train=True, seed=3)
    first = [ds[i]["keypoints"] for i in range(len(ds))]
    loader = DataLoader(ds, batch_size=1, num_workers=2, shuffle=False)
    via_workers = [b["keypoints"][0] for b in loader]
    assert all(torch.equal(a, b) for a, b in zip(first, via_workers))
    epochs = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        epochs.append(ds[2]["keypoints"])
    assert not all(torch.equal(epochs[0], e) for e in epochs[1:])


def test_train_flip_mirrors_keypoints_only_with_a_flip_map(items):
    flip = (1, 0, 2, 4, 3)
    seen = set()
    for seed in range(12):
        kw = dict(keys=("video", "keypoints"), train=True, seed=seed)
        kp = _dataset(items, load_keypoints=RecordingKeypoints(), keypoint_flip=flip, **kw)[0]["keypoints"]
        plain = _dataset(items, load_keypoints=RecordingKeypoints(), **kw)[0]["keypoints"]
        torch.testing.assert_close(plain[:, :, 1], torch.arange(V).expand(8, V) / 10)  # never flipped
        mirrored = not torch.equal(kp, plain)
        if mirrored:
            torch.testing.assert_close(kp[:, :, 1], torch.tensor(flip).expand(8, V) / 10)  # left/right swapped
            torch.testing.assert_close(kp[:, :, 0], 1 - plain[:, :, 0])  # x mirrored
        seen.add(mirrored)
    assert seen == {True, False}


def test_clips_per_video_for_test_time_averaging(items):
    stub = RecordingKeypoints()
    ds = _dataset(items, keys=("keypoints",), load_keypoints=stub, clips_per_video=3)
    assert len(ds) == 9
    samples = [ds[i] for i in range(len(ds))]
    assert [s["video_index"] for s in samples] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [s["label"] for s in samples] == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    expected = multi_clip_indices(13, 8, 3)
    for k in range(3):
        np.testing.assert_array_equal(stub.calls[6 + k][1], expected[k])


def test_unreadable_video_raises_and_is_found_up_front(items, tmp_path):
    bad_path = tmp_path / "Run" / "v_Run_g02_c01.avi"
    bad_path.write_bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    bad = make_item(tmp_path, "Run/v_Run_g02_c01.avi", 0)
    ds = _dataset(items + [bad])
    with pytest.raises(VideoReadError, match="v_Run_g02_c01.avi"):
        ds[3]
    calls = []
    found = find_unreadable(items + [bad], progress=lambda done, total: calls.append((done, total)))
    assert [u.item for u in found] == [bad] and "v_Run_g02_c01.avi" in found[0].reason
    assert calls[-1] == (4, 4)


def test_skeleton_dataset_windows():
    rng = np.random.default_rng(0)
    seqs = [rng.random((t, 17, 4)).astype(np.float32) for t in (3, 40)]
    ds = SkeletonDataset(seqs, [2, 5], clip_len=8, train=False)
    s = ds[1]
    assert s["keypoints"].shape == (8, 1, 17, 4) and (s["label"], s["video_index"]) == (5, 1)
    np.testing.assert_array_equal(s["keypoints"].numpy()[:, 0], seqs[1][uniform_indices(40, 8)])
    np.testing.assert_array_equal(ds[0]["keypoints"].numpy()[:, 0], seqs[0][[0, 0, 0, 1, 1, 2, 2, 2]])
    two = SkeletonDataset(seqs, [2, 5], clip_len=8, train=False, persons=2)[1]["keypoints"]
    assert two.shape == (8, 2, 17, 4) and (two[:, 1] == 0).all()  # an absent slot is all zeros
    train = AugmentedKeypoints(SkeletonDataset(seqs, [2, 5], clip_len=8, train=True, seed=1),
                               lambda k, r: k * 0 + r.random(), persons=1, seed=1)
    a, b = train[1]["keypoints"], train[1]["keypoints"]
    assert torch.equal(a, b) and (a == a.flatten()[0]).all()  # seeded per item; augment ran with its generator


def test_skeleton_dataset_dense_sampling_keeps_the_real_time_scale():
    seqs = [np.arange(t * 17 * 4, dtype=np.float32).reshape(t, 17, 4) for t in (40, 100)]
    ds = SkeletonDataset(seqs, [0, 1], clip_len=8, train=False, sampling=Sampling("dense", 2))
    for i, t in enumerate((40, 100)):  # the same 2-frame step whatever the sequence's length (segment stretches)
        picked = ds[i]["keypoints"].numpy()[:, 0, 0, 0] / (17 * 4)
        assert np.all(np.diff(picked) == 2) and picked[0] == (t - 15 + 1) // 2
    train = SkeletonDataset(seqs, [0, 1], clip_len=8, train=True, sampling=Sampling("dense", 3), seed=4)
    picked = train[1]["keypoints"].numpy()[:, 0, 0, 0] / (17 * 4)
    start = picked - 3 * np.arange(8)  # training: each pick within its 3 frames of a fixed 3-frame grid
    assert start.max() - start.min() <= 2 and np.all(np.diff(picked) >= 1)


def test_skeleton_dataset_rejects_bad_shapes():
    with pytest.raises(ValueError, match="sequence 1"):
        SkeletonDataset([np.zeros((4, 17, 4)), np.zeros((4, 17, 2))], [0, 1], clip_len=4, train=False)
