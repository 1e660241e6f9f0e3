"""`--no-flip`: no training sample of either stream is ever mirrored; with flips on, a mirrored RGB clip comes
with mirrored keypoints. Videos are a grey gradient (dark left, bright right) so a mirrored clip is visible in its
pixels; keypoint caches put every joint at x = 0.2, so a mirrored skeleton sits at x ≈ 0.8."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.datasets.clips import ClipDataset
from twostream.datasets.splits import load_split
from twostream.pose.cache import PoseCache, cache_path_for, save_cache, video_stamp
from twostream.pose.skeleton import MEDIAPIPE_33
from twostream.streams.data import build_datasets
from twostream.streams.keypoint_data import CacheKeypoints
from twostream.streams.registry import build

CLASSES = ("wave_left", "wave_right")
FRAMES = 8


def _gradient_video(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    column = np.linspace(10, 245, 64).astype(np.uint8)  # dark on the left, bright on the right
    for _ in range(FRAMES):
        writer.write(np.repeat(np.broadcast_to(column[None, :, None], (48, 64, 1)), 3, axis=2).copy())
    writer.release()
    return path


def _left_cache(video: Path) -> None:
    landmarks = np.full((FRAMES, 33, 4), 0.5, np.float32)
    landmarks[:, :, 0] = 0.2  # every joint on the left of the frame
    size, mtime = video_stamp(video)
    save_cache(PoseCache.from_single(landmarks=landmarks, world=landmarks.copy(), frame_indices=np.arange(FRAMES),
                         detected=np.ones(FRAMES, bool), fps=25.0, num_frames=FRAMES, width=64, height=48, every=1,
                         mediapipe_version="test", video_size=size, video_mtime_ns=mtime),
               cache_path_for(video))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Two classes x 3 actors (group 1 is the test actor), gradient videos with keypoint caches."""
    root = tmp_path_factory.mktemp("flip") / "data"
    train, test = [], []
    for label, name in enumerate(CLASSES):
        for g in (1, 2, 3):
            rel = f"{name}/v_{name}_g{g:02d}_c01.avi"
            _left_cache(_gradient_video(root / rel))
            (test if g == 1 else train).append((rel, label))
    (root / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    (root / "trainlist01.txt").write_text("".join(f"{rel} {label + 1}\n" for rel, label in train))
    (root / "testlist01.txt").write_text("".join(f"{rel}\n" for rel, _ in test))
    return root


def _rgb_mirrored(video) -> bool:
    """(T, 3, S, S): a mirrored gradient is brighter on the left than on the right."""
    return bool(video[..., :4].mean() > video[..., -4:].mean())


def _keypoints_mirrored(keypoints) -> bool:
    x = keypoints[..., 0].numpy()
    return bool(x[x != 0].mean() > 0.5)


def _train_samples(dataset, epochs: int = 4):
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        yield from (dataset[i] for i in range(len(dataset)))


@pytest.mark.parametrize("model", ["cnn_lstm", "pose_gru"])
def test_no_flip_never_mirrors_a_training_sample(root, model):
    spec = build(model, num_classes=2, clip_len=4).input_spec
    key, mirrored = ("video", _rgb_mirrored) if spec.key == "video" else ("keypoints", _keypoints_mirrored)
    seen = {flip: {mirrored(s[key]) for s in _train_samples(build_datasets(root, spec, flip=flip).train)}
            for flip in (False, True)}
    assert seen[False] == {False}
    assert seen[True] == {False, True}  # the default flips: the detectors above can see a mirror


@pytest.mark.parametrize("flip", [False, True])
def test_a_mirrored_rgb_clip_comes_with_mirrored_keypoints(root, flip):
    items = load_split(root).train
    dataset = ClipDataset(items, clip_len=4, size=32, mean=(0.5,) * 3, std=(0.25,) * 3, train=True,
                          keys=("video", "keypoints"), load_keypoints=CacheKeypoints(),
                          keypoint_flip=MEDIAPIPE_33.flip, flip=flip)
    pairs = {(_rgb_mirrored(s["video"]), _keypoints_mirrored(s["keypoints"])) for s in _train_samples(dataset)}
    assert pairs == ({(False, False), (True, True)} if flip else {(False, False)})


def test_train_no_flip_is_recorded_in_the_run_config(root, tmp_path):
    from twostream.cli.main import main

    out = tmp_path / "run"
    assert main(["train", str(root), "--model", "fc", "--no-pretrained", "--no-flip", "--epochs", "1",
                 "--clip-len", "4", "--workers", "0", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["flip"] is False and config["data"]["flip"] is False


def test_train_val_fraction_reaches_the_split_and_the_run_config(root, tmp_path):
    from twostream.cli.main import main

    runs = {}
    for fraction in ("0.1", "0.5"):
        out = tmp_path / f"run{fraction}"
        assert main(["train", str(root), "--model", "fc", "--no-pretrained", "--epochs", "1", "--clip-len", "4",
                     "--workers", "0", "--val-fraction", fraction, "--out", str(out)]) == 0
        runs[fraction] = json.loads((out / "config.json").read_text())["data"]
    assert runs["0.5"]["val_fraction"] == 0.5 and runs["0.1"]["val_fraction"] == 0.1
