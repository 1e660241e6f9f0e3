"""live ≡ offline: in --deterministic mode the scores logged for a window equal ``RunPredictor.predict_window`` on
the same frames read offline (``read_frames`` + ``frames_to_tensor``, MediaPipe over the same frames)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twostream.cli.main import main
from twostream.datasets.transforms import frames_to_tensor
from twostream.datasets.video import read_frames
from twostream.fusion.run import load_run, write_fused_run
from twostream.pose.backends import PoseConfig
from twostream.pose.extract import track_video
from twostream.pose.tracking import PoseStream
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

CLASSES = ["wave", "jump", "sit"]


def _save(path: Path, arch: str, **kwargs) -> Path:
    torch.manual_seed(len(arch))
    kwargs = {"num_classes": len(CLASSES), **kwargs}
    model = build(arch, **kwargs)
    save_checkpoint(path, {"model": model.state_dict(), "arch": arch, "arch_kwargs": kwargs, "classes": CLASSES,
                           "config": {}, "epoch": 1, "metrics": {}})
    return path


@pytest.fixture
def fused_run(tmp_path) -> Path:
    """A real fused run of two tiny random-init streams (R3D-18 at 32 px, ST-GCN on COCO-17), gated fusion."""
    rgb = _save(tmp_path / "rgb" / "best.pt", "r3d_18", clip_len=4, size=32)
    pose = _save(tmp_path / "pose" / "best.pt", "pose_stgcn", clip_len=6, layout="coco17", channels=(8, 16))
    record = {"mode": "gated", "params": {"gated": {"weight": 0.4}}, "classes": CLASSES,
              "streams": {"rgb": {"arch": "r3d_18"}, "pose": {"arch": "pose_stgcn"}}}
    return write_fused_run(tmp_path / "fused", record, {"rgb": rgb, "pose": pose})


def _offline(run_dir: Path, video: Path, records: list[dict]) -> list:
    predictor = load_run(run_dir)
    frames = read_frames(video, np.arange(records[-1]["frame"] + 1))  # (N, H, W, 3) RGB, up to the last window
    with PoseStream(PoseConfig()) as stream:  # every frame, in order, on live's clock, like live
        _, tracked = track_video(stream, frames, fps=30)
    landmarks = np.stack([t.keypoints[0] for t in tracked])  # (N, 33, 4): the main actor, as live feeds it
    video_spec, pose_spec = predictor.specs["video"], predictor.specs["keypoints"]
    out = []
    for record in records:
        last = record["frame"]
        clip = frames[last - video_spec.clip_len + 1:last + 1]
        x = frames_to_tensor(clip, video_spec.size, video_spec.mean, video_spec.std)  # (T, 3, S, S)
        out.append(predictor.predict_window(video=x, keypoints=landmarks[last - pose_spec.clip_len + 1:last + 1]))
    return out


def _live_log(run_dir: Path, video: Path, tmp_path: Path, *extra: str) -> list[dict]:
    log = tmp_path / "preds.jsonl"
    assert main(["live", str(run_dir), "--source", str(video), "--no-window", "--deterministic", "--smooth", "1",
                 "--stride", "4", "--log", str(log), "--precision", "fp32", *extra]) == 0  # exact: as offline
    return [json.loads(line) for line in log.read_text().splitlines()]


def _assert_same(records: list[dict], offline: list) -> None:
    assert records
    for record, expected in zip(records, offline, strict=True):
        np.testing.assert_allclose(record["fused"], expected.fused, atol=1e-5)
        for name, probs in expected.per_stream.items():
            np.testing.assert_allclose(record["per_stream"][name], probs, atol=1e-5)
        assert record["pose_detected_fraction"] == pytest.approx(expected.pose_detected_fraction)


def test_live_equals_offline_on_a_tiny_video(fused_run, tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=16, size=(96, 72))
    records = _live_log(fused_run, video, tmp_path)
    assert [r["frame"] for r in records] == [5, 9, 13]  # first full 6-frame pose window, then every 4th
    _assert_same(records, _offline(fused_run, video, records))


def test_live_equals_offline_with_a_real_person(fused_run, tmp_path, shared_data):
    video = shared_data / "clips" / "mmaction2_test.avi"
    records = _live_log(fused_run, video, tmp_path, "--max-frames", "20")
    assert records[-1]["pose_detected_fraction"] > 0.5  # the person is found, so the pose stream sees joints
    frames_needed = records[-1]["frame"] + 1
    assert frames_needed <= 20
    _assert_same(records, _offline(fused_run, video, records))
