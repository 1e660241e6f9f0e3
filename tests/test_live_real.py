"""`twostream live` on real footage (a shared Kinetics clip): every frame comes out, the skeleton lands on the
person, MediaPipe's start-up chatter stays out of the terminal. Skips without ../shared/data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from twostream.cli.main import main
from twostream.fusion import run
from twostream.fusion.live.overlay import canvas_for
from twostream.streams.base import InputSpec

CLIP = Path("/work/shared/data/clips/ta_chi.mp4")
# Where the person is in the first 30 frames of ta_chi.mp4 (x0, y0, x1, y1 as fractions of the frame), read off
# the frames by eye (hands 0.29..0.81 across, head to feet 0.41..0.84 down) with a margin: the rest is wall.
PERSON_BOX = (0.22, 0.33, 0.88, 0.92)


class _TwoStreamStandIn:
    """A fused run's interface with constant scores: the test is about the pipeline and the drawing."""

    classes = ["wave", "jump", "sit"]
    specs = {"video": InputSpec("video", 4, 16, (0.4,) * 3, (0.2,) * 3),
             "keypoints": InputSpec("keypoints", 4, layout="mediapipe33")}

    def predict_window(self, video=None, keypoints=None):
        probs = np.array([0.6, 0.3, 0.1])
        return SimpleNamespace(fused=probs, per_stream={"rgb": probs, "pose": probs},
                               pose_detected_fraction=float(np.mean(np.any(keypoints, axis=(1, 2)))))


def _frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(path)), []
    while limit is None or len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not found (shared real clips absent)")
    out = tmp_path_factory.mktemp("live_real") / "annotated.mp4"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "load_run", lambda run_dir, device="cpu", **options: _TwoStreamStandIn())
        code = main(["live", "RUN", "--source", str(CLIP), "--no-window", "--output", str(out),
                     "--max-frames", "30", "--stride", "8"])
    assert code == 0
    return _frames(CLIP, 30), _frames(out)


def test_every_input_frame_comes_out_on_the_canvas(live_run):
    inputs, outputs = live_run
    canvas = canvas_for(*inputs[0].shape[:2])
    assert len(outputs) == len(inputs) == 30
    assert outputs[0].shape == (canvas.height, canvas.width, 3)


def test_the_skeleton_is_drawn_on_the_person(live_run):
    inputs, outputs = live_run
    canvas = canvas_for(*inputs[0].shape[:2])
    inside = total = 0
    for source, annotated in zip(inputs[5::6], outputs[5::6]):
        plain = cv2.resize(source, (canvas.video_width, canvas.height), interpolation=cv2.INTER_LINEAR)
        drawn = np.abs(annotated[:, :canvas.video_width].astype(int) - plain).max(axis=2) > 80  # (H, W) bones
        ys, xs = np.nonzero(drawn)
        x, y = xs / canvas.video_width, ys / canvas.height
        x0, y0, x1, y1 = PERSON_BOX
        inside += int(np.sum((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)))
        total += len(xs)
    assert total > 500  # a skeleton was drawn in every sampled frame, not a few stray pixels
    assert inside / total > 0.97, f"only {inside}/{total} skeleton pixels on the person"


def test_the_panel_sits_beside_the_video(live_run):
    inputs, outputs = live_run
    canvas = canvas_for(*inputs[0].shape[:2])
    panel = outputs[-1][:, canvas.video_width:]
    assert panel.std() > 10 and (panel.max(axis=2) > 200).sum() > 500  # bars and white text
