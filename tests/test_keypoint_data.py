"""Keypoint datasets from pose caches and skeleton pickles; the real shared skeletons through both models."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from twostream.errors import CacheError
from twostream.pose.cache import PoseCache, cache_path_for, save_cache, video_stamp
from twostream.streams.base import InputSpec
from twostream.streams.keypoint_data import CacheKeypoints, build_keypoint_datasets, to_layout
from twostream.streams.registry import build

CLASSES = ("Jump", "Wave")


def write_cache(video: Path, num_frames: int, seed: int = 0, blank: bool = False) -> Path:
    """A ``.pose.npz`` beside ``video`` whose x coordinate encodes the frame number (frame / 1000)."""
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(0.3, 0.7, (num_frames, 33, 4)).astype(np.float32)
    landmarks[:, :, 0] = np.arange(num_frames)[:, None] / 1000 + 0.1
    detected = np.zeros(num_frames, bool) if blank else np.ones(num_frames, bool)
    landmarks[~detected] = 0.0
    size, mtime = video_stamp(video)
    cache = PoseCache.from_single(landmarks=landmarks, world=landmarks.copy(), frame_indices=np.arange(num_frames),
                      detected=detected, fps=25.0, num_frames=num_frames, width=64, height=48, every=1,
                      mediapipe_version="test", video_size=size, video_mtime_ns=mtime)
    return save_cache(cache, cache_path_for(video))


def make_ucf_folder(root: Path, make_video, *, groups: int = 3, frames: int = 10, caches: bool = True) -> Path:
    """root/<Class>/v_<Class>_gNN_c01.avi with classInd/trainlist01/testlist01 (group 1 is the test group)."""
    train, test = [], []
    for label, name in enumerate(CLASSES):
        for g in range(1, groups + 1):
            rel = f"{name}/v_{name}_g{g:02d}_c01.avi"
            video = make_video(root / rel, num_frames=frames, seed=label * 10 + g)
            if caches:
                write_cache(video, frames, seed=g)
            (test if g == 1 else train).append((rel, label))
    (root / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    (root / "trainlist01.txt").write_text("".join(f"{rel} {label + 1}\n" for rel, label in train))
    (root / "testlist01.txt").write_text("".join(f"{rel}\n" for rel, _ in test))
    return root


def test_folder_source_uses_uniform_indices_from_the_cache(tmp_path, make_video):
    root = make_ucf_folder(tmp_path / "data", make_video, frames=10)
    spec = InputSpec(key="keypoints", clip_len=5, layout="mediapipe33")
    bundle = build_keypoint_datasets(root, spec=spec, val_fraction=0.4)
    assert bundle.classes == CLASSES and len(bundle.test) == 2 and len(bundle.val) >= 2
    sample = bundle.test[0]
    assert sample["keypoints"].shape == (5, 1, 33, 4) and sample["keypoints"].dtype == torch.float32
    # uniform_indices(10, 5) = segment centres 1, 3, 5, 7, 9: the frames the RGB stream would decode too
    frames = np.rint((sample["keypoints"][:, 0, 0, 0].numpy() - 0.1) * 1000).astype(int)
    assert frames.tolist() == [1, 3, 5, 7, 9]
    train_sample = bundle.train[0]
    assert train_sample["keypoints"].shape == (5, 1, 33, 4) and torch.isfinite(train_sample["keypoints"]).all()
    assert bundle.meta["source"] == "folder"


def test_cli_folds_5_on_a_video_folder(tmp_path, make_video, capsys):
    import json

    from twostream.cli.main import main

    root = make_ucf_folder(tmp_path / "data", make_video, groups=6, frames=8)  # 5 training groups per class
    out = tmp_path / "cv"
    assert main(["train", str(root), "--model", "pose_gru", "--folds", "5", "--epochs", "1", "--batch-size", "4",
                 "--workers", "0", "--clip-len", "4", "--out", str(out)]) == 0
    record = json.loads((out / "folds.json").read_text())
    assert len(record["accuracy"]) == 5 and all(0 <= a <= 1 for a in record["accuracy"])
    held = [json.loads((out / f"fold{k}" / "config.json").read_text())["data"]["videos"]["val"] for k in range(1, 6)]
    groups = [{Path(v).name.split("_")[2] for v in fold} for fold in held]
    assert all(len(g) == 1 for g in groups) and len(set().union(*groups)) == 5  # each group held out once
    assert "5-fold cross-validation: accuracy" in capsys.readouterr().out


def test_folder_source_to_coco17(tmp_path, make_video):
    root = make_ucf_folder(tmp_path / "data", make_video)
    bundle = build_keypoint_datasets(root, spec=InputSpec(key="keypoints", clip_len=4, layout="coco17"))
    assert bundle.test[0]["keypoints"].shape == (4, 1, 17, 4)


def test_missing_cache_names_the_video_and_the_extract_command(tmp_path, make_video):
    root = make_ucf_folder(tmp_path / "data", make_video, caches=False)
    with pytest.raises(CacheError, match=r"v_Jump_g\d\d_c01\.avi.*twostream extract .*data"):
        build_keypoint_datasets(root, spec=InputSpec(key="keypoints", clip_len=4, layout="mediapipe33"))


def test_stale_cache_is_refused(tmp_path, make_video):
    video = make_video(tmp_path / "a.avi", num_frames=6)
    write_cache(video, 6)
    make_video(video, num_frames=9)  # the video changed after extraction
    with pytest.raises(CacheError, match="older than video"):
        CacheKeypoints("mediapipe33", "ROOT")(video, np.arange(3))


def test_to_layout_refuses_what_it_cannot_convert():
    assert to_layout(np.zeros((2, 33, 4)), "coco17").shape == (2, 17, 4)
    with pytest.raises(ValueError, match="17 joints"):
        to_layout(np.zeros((2, 17, 4)), "mediapipe33")


def write_pickle(path: Path) -> Path:
    """A pyskl-style {split, annotations} pickle of 8 two-class skeletons (4 UCF groups per class)."""
    rng = np.random.default_rng(0)
    annotations, names = [], []
    for label in range(2):
        for g in range(1, 5):
            name = f"v_C{label}_g{g:02d}_c01"
            names.append(name)
            annotations.append({"frame_dir": name, "label": label, "img_shape": (240, 320), "total_frames": 12,
                                "keypoint": rng.uniform(0, 240, (1, 12, 17, 2)).astype(np.float32),
                                "keypoint_score": rng.uniform(0.5, 1, (1, 12, 17)).astype(np.float32)})
    split = {"train1": [n for n in names if "_g01_" not in n], "test1": [n for n in names if "_g01_" in n]}
    path.write_bytes(pickle.dumps({"split": split, "annotations": annotations}))
    return path


def test_pickle_source_with_named_splits(tmp_path):
    path = write_pickle(tmp_path / "skeletons.pkl")
    spec = InputSpec(key="keypoints", clip_len=6, layout="coco17")
    bundle = build_keypoint_datasets(path, spec=spec, train_split="train1", test_split="test1", val_fraction=0.34)
    assert bundle.classes == ("0", "1")
    assert len(bundle.test) == 2 and len(bundle.train) + len(bundle.val) == 6 and len(bundle.val) >= 2
    assert bundle.train[0]["keypoints"].shape == (6, 1, 17, 4)
    with pytest.raises(ValueError, match="--train-split KEY --test-split KEY"):
        build_keypoint_datasets(path, spec=spec)
    with pytest.raises(ValueError, match="available: test1, train1"):
        build_keypoint_datasets(path, spec=spec, train_split="nope", test_split="test1")
    with pytest.raises(ValueError, match="--layout coco17"):
        build_keypoint_datasets(path, spec=InputSpec(key="keypoints", clip_len=6, layout="mediapipe33"),
                                train_split="train1", test_split="test1")


def test_pickle_source_honours_dense_sampling(tmp_path):
    from twostream.datasets.sampling import Sampling
    from twostream.streams.data import build_datasets

    path = write_pickle(tmp_path / "skeletons.pkl")
    spec = InputSpec(key="keypoints", clip_len=4, layout="coco17", sampling=Sampling("dense", 3))
    bundle = build_datasets(path, spec, train_split="train1", test_split="test1")
    first = bundle.test[0]["keypoints"][:, 0]  # (4, 17, 4): frames 1, 4, 7, 10 of the 12 (centred)
    raw = pickle.loads(path.read_bytes())["annotations"][0]
    np.testing.assert_allclose(first[:, :, 0].numpy() * 320, raw["keypoint"][0, [1, 4, 7, 10], :, 0], rtol=1e-5)


def test_keypoint_data_does_not_import_streams_data():
    """The data path has one direction: ``streams.data`` uses ``keypoint_data``, never the reverse."""
    import subprocess
    import sys

    code = ("import sys, twostream.streams.keypoint_data; assert 'twostream.streams.data' not in sys.modules; "
            "import twostream.streams.data")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["pose_gru", "pose_stgcn"])
def test_real_skeleton_pickles_end_to_end(shared_data, name):
    from twostream.pose.pickle_io import load_skeleton_pickle

    paths = sorted((shared_data / "skeletons").glob("*.pkl"))
    if not paths:
        pytest.skip(f"no skeleton pickles in {shared_data / 'skeletons'}")
    loaded = 0
    for path in paths:
        try:
            skeletons = load_skeleton_pickle(path)
        except CacheError as exc:  # e.g. an annotation file without keypoints: refused with a clear message
            assert str(path) in str(exc)
            continue
        assert skeletons.layout == "coco17"
        record = skeletons.annotations[0]
        assert record.keypoints.ndim == 4 and record.keypoints.shape[2:] == (17, 4)  # (T, M, V, 4)
        bundle = build_keypoint_datasets(path, spec=InputSpec(key="keypoints", clip_len=16, layout="coco17"),
                                         val_fraction=0.0)
        batch = torch.stack([bundle.train[i]["keypoints"] for i in range(min(2, len(bundle.train)))])
        model = build(name, num_classes=len(bundle.classes), clip_len=16, layout="coco17").eval()
        with torch.no_grad():
            out = model(batch)
        assert out.shape == (len(batch), len(bundle.classes)) and torch.isfinite(out).all()
        loaded += 1
    assert loaded >= 1, "no shared skeleton pickle could be imported"
