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


class _FakeLandmarker:
    """Records the frames it is given and returns ``found(frame)`` people (one landmark each, enough for Persons)."""

    def __init__(self, num_poses: int, found, calls: list) -> None:
        self.num_poses, self.found, self.calls = num_poses, found, calls

    def detect_for_video(self, image, timestamp_ms):
        from types import SimpleNamespace

        frame = timestamp_ms // 10
        self.calls.append((frame, self.num_poses))
        joint = SimpleNamespace(x=0.5, y=0.5, z=0.0, visibility=1.0, presence=1.0)
        people = [[joint] * 33 for _ in range(min(self.num_poses, self.found(frame)))]
        return SimpleNamespace(pose_landmarks=people, pose_world_landmarks=people)

    def close(self) -> None:
        pass


def _schedule(monkeypatch, persons_in_view, frames: int, search_every: int = 8) -> list[tuple[int, int]]:
    from twostream.pose import mediapipe_tasks

    calls: list = []
    monkeypatch.setattr(mediapipe_tasks, "_create_landmarker",
                        lambda bundle, config, n: _FakeLandmarker(n, persons_in_view, calls))
    estimator = mediapipe_tasks.MediaPipeTasksEstimator(PoseConfig(persons=2, search_every=search_every))
    for frame in range(frames):
        estimator.process(np.zeros((8, 8, 3), np.uint8), frame * 10)
    return calls


def test_two_person_search_runs_only_every_few_frames_while_one_person_is_in_view(monkeypatch):
    calls = _schedule(monkeypatch, lambda frame: 1, 20)
    two = [frame for frame, n in calls if n == 2]  # the detector-per-frame landmarker
    assert two == [0, 1, 2, 3, 4, 5, 6, 7, 8, 16]  # the first search period, then every 8th frame
    assert [n for frame, n in calls if frame > 8 and frame % 8] == [1] * 10  # the one-person landmarker follows


def test_a_second_person_is_followed_every_frame_once_found_and_held_through_a_loss(monkeypatch):
    from twostream.pose.mediapipe_tasks import HOLD_SEARCHES

    both = set(range(11, 30)) - {20, 21}  # the second person enters at 11, is hidden at 20-21, leaves at 30
    calls = _schedule(monkeypatch, lambda frame: 2 if frame in both else 1, 100, search_every=4)
    two = [frame for frame, n in calls if n == 2]
    assert two[:7] == [0, 1, 2, 3, 4, 8, 12]  # found at the first search after entering: 1 frame late
    release = 30 + HOLD_SEARCHES * 4  # held HOLD_SEARCHES search periods after the last frame with both
    assert set(range(12, release)) <= set(two)  # every frame from then on, through the gap
    after = [frame for frame, n in calls if n == 2 and frame >= release]
    assert after and all(frame % 4 == 0 for frame in after)  # then back to searching every 4th frame
