"""The live engine and `twostream live`: headless output with every frame, clean failures, bounded hand-over.

These use a private stand-in predictor (scores computed from the window's pixels / keypoints) so they test the
engine, not a model; ``test_live_offline.py`` runs a real tiny run end to end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from twostream.cli.main import main
from twostream.datasets.video import read_frames
from twostream.errors import VideoReadError
from twostream.fusion import live, run
from twostream.fusion.live import ingest as ingest_module
from twostream.fusion.live.capture import FrameSource
from twostream.fusion.live.ingest import Ingest
from twostream.fusion.live.sinks import AnnotatedWriter
from twostream.streams.base import InputSpec

MEAN, STD = (0.4, 0.4, 0.4), (0.2, 0.2, 0.2)


class StandInPredictor:
    """``RunPredictor``'s interface; the fused scores are a softmax of the window's per-frame means."""

    def __init__(self, keys=("video",), clip_len=4, fail_after=None):
        self.classes = ["wave", "jump", "sit"]
        self.specs = {}
        if "video" in keys:
            self.specs["video"] = InputSpec("video", clip_len, 16, MEAN, STD)
        if "keypoints" in keys:
            self.specs["keypoints"] = InputSpec("keypoints", clip_len, layout="mediapipe33")
        self.calls, self.fail_after = [], fail_after

    def predict_window(self, video=None, keypoints=None):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("model exploded")
        self.calls.append((video, keypoints))
        x = np.zeros(3)
        if video is not None:
            means = np.asarray(video).mean(axis=(1, 2, 3))  # (T,)
            x = x + np.array([means.mean(), means[-1], means[0]]) * np.arange(1, 4)
        z = np.exp(x - x.max())
        probs = z / z.sum()
        return SimpleNamespace(fused=probs, per_stream={"rgb": probs}, pose_detected_fraction=1.0)


def _count_frames(path) -> int:
    return len(read_frames(path))  # frames that really decode, not the container's claim


def _live(monkeypatch, predictor, *argv) -> int:
    monkeypatch.setattr(run, "load_run", lambda run_dir, device="cpu", **options: predictor)
    return main(["live", "RUN", *argv])


def test_headless_deterministic_run_writes_every_frame_with_overlay(tmp_path, make_video):
    from twostream.streams.checkpoint import save_checkpoint
    from twostream.streams.registry import build

    kwargs = {"num_classes": 3, "clip_len": 4, "size": 16, "hidden": 8}  # a real (tiny, untrained) run
    model = build("fc", **kwargs)
    save_checkpoint(tmp_path / "run" / "best.pt", {"model": model.state_dict(), "arch": "fc", "arch_kwargs": kwargs,
                                                   "classes": ["wave", "jump", "sit"], "config": {}, "epoch": 1,
                                                   "metrics": {}})
    video = make_video(tmp_path / "in.avi", num_frames=20, size=(160, 120))
    out, log = tmp_path / "annotated.mp4", tmp_path / "preds.jsonl"
    assert main(["live", str(tmp_path / "run"), "--source", str(video), "--no-window", "--output", str(out),
                 "--log", str(log), "--stride", "5", "--smooth", "1", "--deterministic"]) == 0
    assert _count_frames(out) == 20
    assert not list(tmp_path.glob(".*partial*"))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["frame"] for r in records] == [3, 8, 13, 18]  # first full window, then every 5th frame
    assert records[0]["window"] == [0, 3]
    assert len(records[0]["top5"]) == 3 and set(records[0]["per_stream"]) == {"rgb"}
    assert records[0]["pose_detected_fraction"] is None
    np.testing.assert_allclose(records[0]["fused"], records[0]["fused_raw"])
    # the canvas: the video upscaled to 360 px high on the left, unchanged but for the size; the panel on the right
    ours, theirs = cv2.VideoCapture(str(out)), cv2.VideoCapture(str(video))
    for _ in range(10):
        a, b = ours.read()[1].astype(int), theirs.read()[1]
    assert a.shape == (360, 480 + 288, 3)
    video_area = cv2.resize(a[:, :480].astype(np.uint8), (160, 120), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(video_area - b.astype(int)).mean() < 10  # the actor is not hidden
    assert a[:, 480:].std() > 10  # the panel has bars and text on it


def test_headless_file_runs_annotate_every_frame_without_deterministic(tmp_path, make_video, monkeypatch):
    video = make_video(tmp_path / "in.avi", num_frames=25, fps=200.0)
    push = Ingest.push

    def slow_push(self, posed):  # 20 ms a frame against the file's 5: played at its fps, most frames would drop
        import time

        time.sleep(0.02)
        return push(self, posed)

    monkeypatch.setattr(Ingest, "push", slow_push)
    out = tmp_path / "annotated.mp4"
    assert _live(monkeypatch, StandInPredictor(clip_len=2), "--source", str(video), "--no-window",
                 "--output", str(out), "--stride", "2") == 0
    assert _count_frames(out) == 25


def test_fast_and_realtime_together_are_refused(tmp_path, make_video, monkeypatch, capsys):
    video = make_video(tmp_path / "in.avi", num_frames=4)
    assert _live(monkeypatch, StandInPredictor(), "--source", str(video), "--no-window", "--fast", "--realtime") != 0
    assert "--fast and --realtime" in capsys.readouterr().err


def test_threaded_run_processes_or_counts_every_frame(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=30)
    predictor = StandInPredictor(clip_len=4)
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=2, smooth=3))
    with FrameSource(video, realtime=False) as source:
        stats = engine.run(source)
    assert stats.frames + stats.dropped == 30
    assert stats.predictions >= 1 and stats.predictions + stats.skipped_inferences <= 30
    assert len(stats.latencies_ms) == stats.frames
    assert len(stats.stage_ms["ingest"]) == len(stats.stage_ms["present"]) == stats.frames  # where time goes
    assert len(stats.stage_ms["infer"]) == stats.predictions and min(stats.stage_ms["infer"]) > 0
    assert engine.results.peek().fused.shape == (3,)


def test_drawing_a_frame_overlaps_pose_on_the_next(tmp_path, make_video, monkeypatch):
    # pose takes most of a frame's time: presenting frame n while frame n + 1 is ingested keeps the frame rate
    video = make_video(tmp_path / "in.avi", num_frames=6)
    push, second_ingested, overlapped = Ingest.push, threading.Event(), []

    def noted_push(self, posed):
        if posed.frame.index == 1:
            second_ingested.set()
        return push(self, posed)

    class Window:
        def show(self, image):
            if not overlapped:  # frame 0 on screen: does frame 1 go through ingest meanwhile?
                overlapped.append(second_ingested.wait(timeout=5))
            return -1

    monkeypatch.setattr(Ingest, "push", noted_push)
    engine = live.LiveEngine(StandInPredictor(clip_len=2), live.LiveConfig(stride=2))
    with FrameSource(video, realtime=False) as source:
        stats = engine.run(source, window=Window())
    assert overlapped == [True]
    assert stats.frames == 6 and stats.dropped == 0  # a file read as fast as possible: still every frame


class _LaneEstimator:
    """A pose estimator stand-in: one person whose x is the frame's time; notes (lane, ms) of every call."""

    layout, num_joints = "mediapipe33", 33

    def __init__(self, lane: int, calls: list, barrier: threading.Barrier | None):
        self.lane, self.calls, self.barrier = lane, calls, barrier

    def process(self, frame_rgb, timestamp_ms):
        from twostream.pose.backends import Persons, boxes_of

        self.calls.append((self.lane, timestamp_ms))
        if self.barrier is not None and timestamp_ms < 50:  # frames 0 and 1 wait until both lanes are busy
            self.barrier.wait()
        keypoints = np.ones((1, 33, 4), np.float32)
        keypoints[0, :, 0] = timestamp_ms / 1000 + np.linspace(0.0, 0.2, 33)  # joint 0 at x = the frame's time
        keypoints[0, :, 1] = np.linspace(0.2, 0.8, 33)
        return Persons(keypoints, keypoints.copy(), np.ones(1, np.float32), boxes_of(keypoints))

    def close(self):
        pass


def _lane_estimators(monkeypatch, barrier=None) -> list:
    calls, lanes = [], []

    def open_estimator(config):
        lanes.append(_LaneEstimator(len(lanes), calls, barrier))
        return lanes[-1]

    monkeypatch.setattr(ingest_module, "open_estimator", open_estimator)
    return calls


@pytest.mark.parametrize("deterministic", [False, True])
def test_pose_lanes_work_side_by_side_and_hand_frames_on_in_order(tmp_path, make_video, monkeypatch, deterministic):
    # two lanes: frame 1's pose starts while frame 0's still runs (a barrier both must reach, or it times out);
    # each lane sees its own frames in order, and tracking + the buffers see every frame in the source's order
    calls = _lane_estimators(monkeypatch, None if deterministic else threading.Barrier(2, timeout=10))
    video = make_video(tmp_path / "in.avi", num_frames=12)
    predictor = StandInPredictor(keys=("keypoints",), clip_len=12)
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=12, smooth=1, pose_lanes=2,
                                                        deterministic=deterministic))
    with FrameSource(video, realtime=False) as source:
        stats = engine.run(source)
    assert stats.frames == 12 and stats.dropped == 0
    ms = [round(i * 1000 / 30) for i in range(12)]
    lanes = sorted({lane for lane, _ in calls})
    assert lanes == ([0] if deterministic else [0, 1])  # deterministic: one estimator, as offline extraction
    for lane in lanes:
        assert [t for n, t in calls if n == lane] == ms[lane::len(lanes)]
    window = predictor.calls[-1][1]  # (T, 33, 4): slot 0 over the one window of all 12 frames
    np.testing.assert_allclose(window[:, 0, 0], np.array(ms) / 1000, atol=1e-6)


def test_smoothing_averages_the_last_m_windows(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=12)
    results = []
    engine = live.LiveEngine(StandInPredictor(clip_len=2), live.LiveConfig(stride=1, smooth=3, deterministic=True),
                             on_prediction=results.append)
    with FrameSource(video) as source:
        engine.run(source)
    assert len(results) == 11
    raws = np.stack([r.fused_raw for r in results])
    np.testing.assert_allclose(results[-1].fused, raws[-3:].mean(axis=0))
    np.testing.assert_allclose(results[0].fused, raws[0])


def test_pose_only_run_fills_only_the_keypoint_buffer(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=6)
    predictor = StandInPredictor(keys=("keypoints",), clip_len=3)
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=3, deterministic=True))
    with FrameSource(video) as source:
        engine.run(source)
    assert engine.buffer.video is None
    assert [(v, k.shape) for v, k in predictor.calls] == [(None, (3, 33, 4))] * 2


def test_missing_file_is_one_clear_line(tmp_path, capsys, monkeypatch):
    code = _live(monkeypatch, StandInPredictor(), "--source", str(tmp_path / "nope.mp4"), "--no-window")
    assert code == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_unreadable_file_and_missing_camera_raise_video_read_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoReadError, match="junk.mp4"):
        FrameSource(junk).read()
    with pytest.raises(VideoReadError, match="camera 99"):
        FrameSource("99")


def test_no_display_suggests_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert _live(monkeypatch, StandInPredictor(), "--source", "0") == 2
    assert "--no-window --output" in capsys.readouterr().err


@pytest.mark.parametrize("deterministic", [True, False])
def test_model_error_mid_run_still_finalises_the_output(tmp_path, make_video, monkeypatch, capsys, deterministic):
    video = make_video(tmp_path / "in.avi", num_frames=40)
    out = tmp_path / "annotated.mp4"
    predictor = StandInPredictor(clip_len=2, fail_after=2)
    with pytest.raises(RuntimeError, match="exploded"):
        engine = live.LiveEngine(predictor, live.LiveConfig(stride=3, deterministic=deterministic))
        with FrameSource(video, realtime=False) as source, AnnotatedWriter(out, source.fps) as writer:
            engine.run(source, writer=writer)
    assert not engine._capture or not engine._capture.is_alive()  # threads joined
    frames = _count_frames(out)
    assert 1 <= frames < 40 if deterministic else frames >= 1
    assert not list(tmp_path.glob(".*partial*"))


def test_class_count_mismatch_is_a_clear_error(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=6)
    predictor = StandInPredictor(clip_len=2)
    predictor.classes = ["only", "two"]
    engine = live.LiveEngine(predictor, live.LiveConfig(deterministic=True))
    with FrameSource(video) as source, pytest.raises(Exception, match="scores 3 classes but the run lists 2"):
        engine.run(source)


def test_a_slow_consumer_drops_frames_instead_of_queueing(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=20, fps=50.0)

    class SlowWindow:
        def show(self, image):
            import time

            time.sleep(0.06)  # 3 source frames per displayed frame
            return -1

    engine = live.LiveEngine(StandInPredictor(clip_len=2), live.LiveConfig(stride=1))
    out = tmp_path / "annotated.mp4"
    with FrameSource(video, realtime=True) as source, AnnotatedWriter(out, source.fps) as writer:
        stats = engine.run(source, window=SlowWindow(), writer=writer)
    assert stats.dropped > 0
    assert stats.frames + stats.dropped == 20
    assert _count_frames(out) == 20  # a dropped frame is filled with the previous image: the video keeps its time


def test_overlay_draws_the_skeleton_where_the_person_is_and_the_panel_beside_it():
    from twostream.fusion.live.overlay import draw_overlay
    from twostream.pose.skeleton import MEDIAPIPE_33

    frame = np.zeros((120, 160, 3), np.uint8)
    keypoints = np.zeros((33, 4), np.float32)
    keypoints[:, 0] = np.linspace(0.6, 0.9, 33)  # a person in the lower right of the frame
    keypoints[:, 1] = np.linspace(0.5, 0.95, 33)
    keypoints[:, 3] = 1.0
    out = draw_overlay(frame, keypoints=keypoints, layout=MEDIAPIPE_33, fused=[("wave", 0.7)],
                       streams={"rgb": ("wave", 0.6)}, status=["30 fps"])
    assert not frame.any()  # the input is left alone
    assert out.shape == (360, 480 + 288, 3)
    video = out[:, :480]
    assert video[170:, 280:].any()  # the skeleton, at the upscaled size (x 0.6..0.9 → 288..432 px)
    assert not video[:170].any() and not video[:, :280].any()  # nothing else on the video
    assert out[:, 480:].std() > 10  # the panel, beside the video


@pytest.mark.parametrize("size, canvas", [((120, 160), (480, 360, 288)), ((256, 340), (478, 360, 288)),
                                          ((240, 426), (640, 360, 288)), ((1080, 1920), (1920, 1080, 864))])
def test_small_videos_are_upscaled_and_the_panel_follows_the_height(size, canvas):
    from twostream.fusion.live.overlay import canvas_for, draw_overlay

    assert canvas_for(*size) == canvas
    out = draw_overlay(np.zeros((*size, 3), np.uint8), fused=[("a_rather_long_class_name_indeed", 0.5)])
    assert out.shape == (canvas[1], canvas[0] + canvas[2], 3)


def test_panel_text_scales_with_the_canvas():
    from twostream.fusion.live.overlay import draw_overlay

    def ink_rows(height):
        panel = draw_overlay(np.zeros((height, height, 3), np.uint8), status=["30 fps"])[:, height:]
        rows = np.flatnonzero((panel.max(axis=(1, 2)) > 120))  # bright text and heading rows
        return rows.max() - rows.min()

    assert 1.8 < ink_rows(720) / ink_rows(360) < 2.2


def test_a_source_that_stops_mid_run_is_reported_after_a_clean_shutdown(tmp_path, make_video):
    video = make_video(tmp_path / "in.avi", num_frames=30)

    class UnpluggedAfter5(FrameSource):
        def read(self):
            frame = super().read()
            if frame is not None and frame.index >= 5:
                raise VideoReadError("video source 0 stopped delivering frames (unplugged or closed?)")
            return frame

    out = tmp_path / "annotated.mp4"
    engine = live.LiveEngine(StandInPredictor(clip_len=2), live.LiveConfig(stride=2))
    with pytest.raises(VideoReadError, match="unplugged"):
        with UnpluggedAfter5(video, realtime=False) as source, AnnotatedWriter(out, source.fps) as writer:
            engine.run(source, writer=writer)
    assert not engine._capture.is_alive()
    assert _count_frames(out) == 5  # every frame read before the failure, in a finished file


@pytest.mark.skipif(not hasattr(threading, "get_native_id") or os.name != "posix", reason="per-thread nice: Linux")
def test_worker_nice_lowers_only_the_inference_threads_priority():
    from twostream.fusion.live.buffers import LatestSlot
    from twostream.fusion.live.scheduling import Worker

    seen, requests = [], LatestSlot()
    worker = Worker(requests, lambda _: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())),
                    nice=3)
    worker.start()
    requests.put("snapshot")
    while not seen:
        time.sleep(0.01)
    worker.stop()
    worker.join()
    assert seen == [os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 3]
    with pytest.raises(ValueError, match="worker_nice"):
        live.LiveConfig(worker_nice=-1)
