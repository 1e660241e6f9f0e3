"""A run knows its time scale: training records its sampling, and live hands each stream the frames that
training's sampling picks over the same span, at any source fps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.datasets.sampling import Sampling, dense_indices, uniform_indices
from twostream.datasets.transforms import frames_to_tensor
from twostream.datasets.video import read_frames
from twostream.fusion import live
from twostream.fusion.live.capture import FrameSource
from twostream.fusion.live.ingest import _buffer_specs
from twostream.fusion.run import load_run
from twostream.streams.base import InputSpec

CLIP, FRAMES, FPS = 4, 32, 25.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_video):
    """One tiny trained run per sampling: ``{"segment": RunPredictor, "dense": RunPredictor}`` (K = 3)."""
    tmp = tmp_path_factory.mktemp("sampling")
    root = tmp / "data"
    for c, name in enumerate(("left", "right")):
        for g in range(3):
            make_video(root / name / f"v_{name}_g{g + 1:02d}_c01.avi", num_frames=FRAMES, fps=FPS, seed=c * 10 + g)
    out = {}
    for mode, extra in (("segment", []), ("dense", ["--sampling", "dense", "--frame-interval", "3"])):
        assert main(["train", str(root), "--model", "cnn_lstm", "--clip-len", str(CLIP), "--epochs", "1",
                     "--workers", "0", "--batch-size", "2", "--no-flip", "--out", str(tmp / mode), *extra]) == 0
        out[mode] = load_run(tmp / mode)
    return out


def _live_windows(predictor, video):
    """Every window the deterministic live engine hands the RGB stream: (last frame, frame indices, pixels)."""
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=1, smooth=1, deterministic=True))
    seen, infer = [], engine.infer
    engine.infer = lambda snap: (seen.append((snap.frame_index, snap.frames["video"], snap.video)), infer(snap))[1]
    with FrameSource(video, realtime=False) as source:
        engine.run(source)
    return seen


def _grid_end(last: int, span: int, step: int) -> int:
    """Where the window ending at or before frame ``last`` ends: cnn_lstm caches per-frame features, so its window
    slides in whole steps from the first full one (frame ``span - 1``) and ends at most ``step - 1`` frames back."""
    return last - (last - (span - 1)) % step


def _check_pixels(video, spec, frames, pixels):
    expected = frames_to_tensor(read_frames(video, frames), spec.size, spec.mean, spec.std).numpy()
    np.testing.assert_allclose(pixels, expected, atol=1e-6)


@pytest.mark.parametrize("fps", [FPS, 2 * FPS])
def test_dense_run_live_windows_are_the_training_clip(runs, tmp_path, make_video, fps):
    predictor = runs["dense"]
    spec = predictor.specs["video"]
    assert spec.sampling == Sampling("dense", 3, FPS)  # recorded in the run, read back from best.pt
    k = round(3 * fps / FPS)  # the same seconds between picks at the source's fps
    video = make_video(tmp_path / f"live_{fps:.0f}.avi", num_frames=40, fps=fps, seed=7)
    windows = _live_windows(predictor, video)
    span = (CLIP - 1) * k + 1
    assert [w[0] for w in windows] == list(range(span - 1, 40))  # ready once the clip's span is in
    for last, frames, pixels in windows:
        start = _grid_end(last, span, k) - span + 1  # training's clip over exactly this span of the source
        np.testing.assert_array_equal(frames, start + dense_indices(span, CLIP, k))
        _check_pixels(video, spec, frames, pixels)


@pytest.mark.parametrize("fps", [FPS, 2 * FPS])
def test_segment_run_live_windows_are_the_evaluation_picks_over_the_training_span(runs, tmp_path, make_video, fps):
    predictor = runs["segment"]  # segment is the default
    spec = predictor.specs["video"]
    assert spec.sampling.mode == "segment" and spec.sampling.fps == FPS
    assert spec.sampling.median_span_s == pytest.approx(FRAMES / FPS)  # 1.28 s: the training videos' length
    video = make_video(tmp_path / f"live_{fps:.0f}.avi", num_frames=80, fps=fps, seed=7)
    windows = _live_windows(predictor, video)
    span = round(FRAMES * fps / FPS)  # the median training span, in the source's frames
    assert windows[0][0] == span - 1
    for last, frames, pixels in windows:
        end = _grid_end(last, span, span // CLIP)
        np.testing.assert_array_equal(frames, end - span + 1 + uniform_indices(span, CLIP))
        _check_pixels(video, spec, frames, pixels)


def test_live_on_a_training_length_video_ends_on_the_offline_prediction(runs, tmp_path, make_video):
    predictor = runs["segment"]
    video = make_video(tmp_path / "same.avi", num_frames=FRAMES, fps=FPS, seed=3)
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=8, smooth=1, deterministic=True))
    results = []
    engine.on_prediction = results.append
    with FrameSource(video, realtime=False) as source:
        engine.run(source)
    assert len(results) == 1 and results[0].frame_index == FRAMES - 1
    np.testing.assert_allclose(results[0].fused, predictor.predict_video(video).fused, atol=1e-5)


class _Recorder:
    """A predictor over one RGB stream of ``sampling`` (not frame-wise: its ring keeps every frame) that records
    the source frames of each window it is handed."""

    def __init__(self, sampling):
        self.classes, self.seen = ["a", "b"], []
        self.specs = {"video": InputSpec("video", CLIP, 16, (0.5,) * 3, (0.2,) * 3, sampling=sampling)}

    def predict_window(self, video=None, keypoints=None):
        return SimpleNamespace(fused=np.array([0.5, 0.5]), per_stream={}, pose_detected_fraction=None)


def _run_short(predictor, video, deterministic):
    results, frames = [], []
    engine = live.LiveEngine(predictor, live.LiveConfig(stride=8, smooth=1, deterministic=deterministic),
                             on_prediction=results.append)
    infer = engine.infer
    engine.infer = lambda snap: (frames.append(snap.frames["video"]), infer(snap))[1]
    with FrameSource(video, realtime=False) as source:
        engine.run(source)
    return results, frames


@pytest.mark.parametrize("sampling", [Sampling("dense", 3, FPS), Sampling("segment", fps=FPS, span_s=(1.28,) * 7)])
@pytest.mark.parametrize("deterministic", [True, False])
def test_a_video_shorter_than_the_window_gets_one_answer_on_the_evaluation_picks(tmp_path, make_video, sampling,
                                                                                 deterministic):
    video = make_video(tmp_path / "short.avi", num_frames=7, fps=FPS, seed=5)  # windows span 10 and 32 frames
    results, frames = _run_short(_Recorder(sampling), video, deterministic)
    assert [r.frame_index for r in results] == [6]  # one answer, when the file ends
    np.testing.assert_array_equal(frames[0], sampling.indices(7, CLIP))  # dense loops: 0, 3, 6, 2


def test_a_trained_run_answers_on_a_video_shorter_than_its_window(runs, tmp_path, make_video):
    video = make_video(tmp_path / "short.avi", num_frames=7, fps=FPS, seed=5)
    results, frames = _run_short(runs["dense"], video, deterministic=True)
    assert len(results) == 1 and results[0].fused.shape == (2,)
    # a frame-wise stream keeps only its lattice (every 3rd frame): a pick off it takes the nearest kept frame
    np.testing.assert_array_equal(frames[0], [0, 3, 6, 3])


def test_each_stream_keeps_its_own_span_and_frame_step_overrides():
    rgb = InputSpec("video", 8, 16, (0.5,) * 3, (0.2,) * 3, sampling=Sampling("dense", 2, 25.0))
    pose = InputSpec("keypoints", 16, layout="mediapipe33",
                     sampling=Sampling("segment", fps=25.0, span_s=(4.0,) * 7))
    video, keypoints = _buffer_specs({"video": rgb, "keypoints": pose}, 25.0, None)
    assert (video.span, video.step) == (15, 2)
    assert (keypoints.span, keypoints.step) == (96, 6)  # 4 s at 25 fps: 16 segments of round(100 / 16) frames
    video, keypoints = _buffer_specs({"video": rgb, "keypoints": pose}, 25.0, 1)
    assert (video.span, keypoints.span) == (8, 16)


def test_sampling_errors_name_the_value():
    with pytest.raises(ValueError, match="sampling must be one of segment, dense"):
        Sampling("sparse")
    with pytest.raises(ValueError, match="--frame-interval must be >= 1"):
        Sampling("dense", 0)
    assert Sampling.from_dict(None) == Sampling()  # a run older than the record
