"""The pose-backend seam: the offline MediaPipe Tasks bundle, ``--pose-model``, and Tasks vs the legacy API."""

from __future__ import annotations

import os

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.errors import WeightsError
from twostream.pose import bundle
from twostream.pose.backends import PoseConfig, open_estimator
from twostream.datasets.video import read_frames


def test_the_full_bundle_is_built_offline_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOSTREAM_CACHE", str(tmp_path))
    path = bundle.resolve_model("full")
    assert path.parent == tmp_path / "pose" and path.suffix == ".task"
    import zipfile

    assert sorted(zipfile.ZipFile(path).namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
    stamp = path.stat().st_mtime_ns
    monkeypatch.setattr(bundle, "_with_metadata", lambda *a: pytest.fail("rebuilt instead of reused"))
    assert bundle.resolve_model("full") == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_heavy_offline_is_one_line_naming_the_file_the_folder_and_the_url(tmp_path, monkeypatch, capsys,
                                                                          make_video):
    monkeypatch.setenv("TWOSTREAM_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match=r"pose_landmarker_heavy\.task in .*pose.*storage\.googleapis\.com"):
        bundle.resolve_model("heavy")
    video = make_video(tmp_path / "clip.avi", num_frames=3)
    assert main(["pose-show", str(video), "--pose-model", "heavy", "-o", str(tmp_path / "out.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pose_landmarker_heavy.task" in err, err
    with pytest.raises(ValueError, match="full, lite, heavy or a PATH.task"):
        bundle.resolve_model("medium")
    with pytest.raises(ValueError, match="--persons"):
        PoseConfig(persons=0)


def test_tasks_with_one_person_matches_the_legacy_landmarks(shared_data):
    """Tasks ``num_poses=1`` vs ``mp.solutions.pose`` (complexity 1, tracking) on 30 frames of a real clip."""
    import mediapipe as mp

    frames = read_frames(shared_data / "clips" / "clean_and_jerk.mp4", np.arange(30))  # (30, H, W, 3) RGB
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as legacy:
        old = [legacy.process(f).pose_landmarks for f in frames]
    with open_estimator(PoseConfig(persons=1)) as estimator:
        new = [estimator.process(f, round(i * 1000 / 30)) for i, f in enumerate(frames)]
    pairs = [(np.array([(p.x, p.y) for p in o.landmark]), n.keypoints[0, :, :2])
             for o, n in zip(old, new) if o is not None and len(n)]
    assert len(pairs) >= 27
    assert all(len(n) <= 1 for n in new)
    assert np.mean([np.abs(a - b).mean() for a, b in pairs]) < 0.01
