"""A label per person: the pose stream per tracked person, the RGB stream on the scene, fused per person; each
label drawn beside its person in the person's colour."""

from __future__ import annotations

import numpy as np
import torch

from twostream.fusion.late import mode_from_dict
from twostream.fusion.live.overlay import PersonLabel, canvas_for, draw_overlay
from twostream.fusion.run import RunPredictor
from twostream.pose.skeleton import MEDIAPIPE_33
from twostream.streams.registry import build

CLASSES = ("clap", "jump", "wave")


def _predictor() -> RunPredictor:
    torch.manual_seed(0)
    models = {"rgb": build("cnn_lstm", num_classes=3, clip_len=4, size=16).eval(),
              "pose": build("pose_gru", num_classes=3, clip_len=4, hidden=8).eval()}
    return RunPredictor(models, CLASSES, mode_from_dict("fixed", {"weight": 0.5}))


def test_each_person_gets_the_scene_rgb_fused_with_their_own_pose():
    predictor = _predictor()
    video = torch.randn(4, 3, 16, 16)
    keypoints = np.random.default_rng(0).uniform(0.2, 0.8, (4, 3, 33, 4)).astype(np.float32)  # (T, M, V, 4)
    keypoints[:, 2] = 0  # slot 2: nobody
    persons = predictor.predict_persons(video, keypoints)
    assert len(persons) == 3
    for m, person in enumerate(persons):
        alone = predictor.predict_window(video, keypoints[:, m])  # what a one-person window gives
        np.testing.assert_allclose(person.fused, alone.fused, atol=1e-6)
        np.testing.assert_allclose(person.per_stream["rgb"], persons[0].per_stream["rgb"])  # one scene score
    assert [p.pose_detected_fraction for p in persons] == [1.0, 1.0, 0.0]
    assert not np.allclose(persons[0].per_stream["pose"], persons[1].per_stream["pose"])
    single = predictor.predict_persons(video, keypoints[:, :1])  # one person in view: today's answer
    np.testing.assert_allclose(single[0].fused, predictor.predict_window(video, keypoints[:, 0]).fused)


def test_person_labels_sit_beside_each_person_in_their_colour():
    frame = np.full((120, 160, 3), 60, np.uint8)
    pose = np.zeros((33, 4), np.float32)
    pose[:, 3] = 1.0
    left, right = pose.copy(), pose.copy()
    left[:, 0], left[:, 1] = np.linspace(0.1, 0.3, 33), np.linspace(0.4, 0.9, 33)
    right[:, 0], right[:, 1] = np.linspace(0.6, 0.8, 33), np.linspace(0.4, 0.9, 33)
    colours = [(0, 200, 255), (255, 80, 200)]
    labels = [PersonLabel(left, "#0 clap 0.80", colours[0]), PersonLabel(right, "#1 wave 0.70", colours[1])]
    out = draw_overlay(frame, layout=MEDIAPIPE_33, persons=labels)
    canvas = canvas_for(120, 160)
    video = out[:, :canvas.video_width]
    top = round(0.4 * canvas.height)  # the people's boxes start here; their tags sit just above
    for (x0, x1), colour in zip(((0.1, 0.3), (0.6, 0.8)), colours):
        band = video[:top, round(x0 * canvas.video_width):round(x1 * canvas.video_width) + 40]
        tag = np.all(band == colour, axis=-1)
        assert tag.sum() > 200, f"no {colour} tag above the person at x {x0}..{x1}"
    assert not np.any(np.all(video[:top, :round(0.3 * canvas.video_width)] == colours[1], axis=-1))
