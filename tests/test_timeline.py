"""`twostream timeline`: windows over an untrimmed video, batched scores equal single-window prediction, segments
→ results JSON → `evaluate-detection`; nobody in view, unreadable videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twostream.cli.main import main
from twostream.datasets.transforms import frames_to_tensor
from twostream.datasets.video import read_frames
from twostream.fusion.run import load_run
from twostream.fusion.timeline.scoring import score_video, stream_window, window_indices
from twostream.pose.cache import PoseCache, cache_path_for, save_cache, video_stamp
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

CLASSES = ("clap", "jump")
FPS = 25.0


def make_run(run: Path, arch: str, **kwargs) -> Path:
    torch.manual_seed(0)
    kwargs = {"num_classes": len(CLASSES), "clip_len": 4, **kwargs}
    model = build(arch, **kwargs)
    save_checkpoint(run / "best.pt", {"model": model.state_dict(), "arch": arch, "arch_kwargs": kwargs,
                                      "classes": list(CLASSES), "config": {}, "epoch": 1, "metrics": {}})
    (run / "config.json").write_text(json.dumps({"arch": arch, "data": {}}))
    return run


def write_empty_cache(video: Path, frames: int) -> None:
    zeros = np.zeros((frames, 33, 4), np.float32)
    size, mtime = video_stamp(video)
    save_cache(PoseCache.from_single(landmarks=zeros, world=zeros, frame_indices=np.arange(frames),
                         detected=np.zeros(frames, bool), fps=FPS, num_frames=frames, width=64, height=48, every=1,
                         mediapipe_version="test", video_size=size, video_mtime_ns=mtime),
               cache_path_for(video))


def test_window_indices_spread_the_clip_over_the_span_around_each_centre(tmp_path):
    length, offsets = stream_window(load_run(make_run(tmp_path, "pose_gru")).specs["keypoints"], 10.0, 2.0)
    assert (length, offsets.tolist()) == (20, [2, 7, 12, 17])
    idx = window_indices(np.array([2.0, 0.0, 9.9]), length=20, offsets=offsets, fps=10.0, num_frames=100)
    assert idx[0].tolist() == [12, 17, 22, 27]  # 20 frames from frame 10, one from the centre of each quarter
    assert idx[1].tolist() == [0, 0, 2, 7]  # clamped at the start
    assert idx[2].max() == 99  # and at the end


def test_batched_windows_score_as_single_windows(tmp_path, make_video):
    video = make_video(tmp_path / "long.avi", num_frames=60, fps=FPS)
    run = make_run(tmp_path / "rgb", "cnn_lstm", size=32)
    predictor = load_run(run)
    seen = []
    timeline = score_video(predictor, video, spans={"video": 0.8}, hop=0.4, batch_size=3,
                           on_frame=lambda done, total: seen.append((done, total)))
    assert timeline.times.tolist() == pytest.approx([0.2, 0.6, 1.0, 1.4, 1.8, 2.2])
    assert seen[-1] == (60, 60)
    idx = window_indices(timeline.times, length=20, offsets=np.array([2, 7, 12, 17]), fps=FPS, num_frames=60)
    spec = predictor.specs["video"]
    for k in (0, 3, 5):
        clip = frames_to_tensor(read_frames(video, idx[k]), spec.size, spec.mean, spec.std)
        np.testing.assert_allclose(timeline.fused[k], predictor.predict_window(video=clip).fused, atol=1e-5)


def test_results_round_trip_through_evaluate_detection(tmp_path, make_video, capsys):
    videos = [make_video(tmp_path / f"v{i}.avi", num_frames=40, fps=FPS, seed=i) for i in range(2)]
    run = make_run(tmp_path / "rgb", "cnn_lstm", size=32)
    out = tmp_path / "tl"
    assert main(["timeline", str(run), *map(str, videos), "--out", str(out), "--window", "1", "--min-score", "0",
                 "--video"]) == 0
    results = json.loads((out / "segments.json").read_text())["results"]
    assert sorted(results) == ["v0", "v1"] and all(results[v] for v in results)  # min-score 0: never background
    assert (out / "v0.timeline.png").stat().st_size > 0 and (out / "v1.timeline.mp4").stat().st_size > 0
    # ground truth = the detections themselves → every class that has one scores AP 1
    gt = {"database": {v: {"subset": "testing", "annotations": [{"segment": d["segment"], "label": d["label"]}
                                                                for d in items]} for v, items in results.items()}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    assert main(["evaluate-detection", str(tmp_path / "gt.json"), str(out / "segments.json")]) == 0
    metrics = json.loads((out / "detection-metrics.json").read_text())
    assert metrics["average_map"] == pytest.approx(1.0) and "mAP" in capsys.readouterr().out


def test_nobody_in_view_gives_no_segments_and_unreadable_videos_are_reported(tmp_path, make_video, capsys):
    empty = make_video(tmp_path / "empty.avi", num_frames=250, fps=FPS)  # 10 s, squares only
    write_empty_cache(empty, 250)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    run = make_run(tmp_path / "pose", "pose_gru")
    out = tmp_path / "tl"
    code = main(["timeline", str(run), str(broken), str(empty), "--out", str(out), "--window", "2",
                 "--min-score", "0"])
    assert code == 1  # one video failed, the other was processed
    assert "broken.avi" in capsys.readouterr().err
    assert json.loads((out / "segments.json").read_text())["results"] == {"empty": []}
    assert main(["timeline", str(run), str(broken), "--out", str(out), "--window", "2"]) == 2


def test_without_a_cache_keypoints_are_extracted(tmp_path, make_video):
    video = make_video(tmp_path / "short.avi", num_frames=20, fps=FPS)
    timeline = score_video(load_run(make_run(tmp_path / "pose", "pose_gru")), video, spans={"keypoints": 0.4})
    assert timeline.keypoints_from == "extracted" and timeline.detected.tolist() == [0.0, 0.0]
    assert not timeline.fused.any()  # nobody found: background everywhere


def test_unknown_time_scale_names_the_flag(tmp_path, make_video):
    video = make_video(tmp_path / "v.avi", num_frames=10)
    run = make_run(tmp_path / "rgb", "cnn_lstm", size=32)
    assert main(["timeline", str(run), str(video), "--out", str(tmp_path / "tl")]) == 2


@pytest.mark.parametrize("arch", ["cnn_lstm", "resnet50_lstm"])
def test_frame_wise_streams_reuse_features_across_windows_with_the_clip_paths_scores(tmp_path, make_video, arch):
    video = make_video(tmp_path / "long.avi", num_frames=100, fps=FPS)
    predictor = load_run(make_run(tmp_path / "rgb", arch, size=32))
    model = predictor.models["rgb"]
    backbone_frames = []
    frame_features = model.frame_features

    def counting(x, previous=None):
        backbone_frames.append(x.shape[0] * x.shape[1])
        return frame_features(x, previous=previous)

    model.frame_features = counting
    scores = {}
    for reuse in (False, True):
        backbone_frames.clear()
        timeline = score_video(predictor, video, spans={"video": 0.8}, hop=0.2, batch_size=4, reuse_features=reuse)
        scores[reuse], frames = timeline.per_stream["rgb"], sum(backbone_frames)
        if not reuse:
            assert frames == 4 * len(timeline.times)  # every window's 4 picks through the backbone
    np.testing.assert_allclose(scores[True], scores[False], atol=1e-4)
    # a random head answers ~0.5 everywhere: the log-odds show that every window's own frames were used
    log_odds = {reuse: np.log(p[:, 0]) - np.log(p[:, 1]) for reuse, p in scores.items()}
    assert len(scores[True]) == 20 and log_odds[False].std() > 10 * 2e-5
    np.testing.assert_allclose(log_odds[True], log_odds[False], atol=2e-5)
    assert frames < 0.5 * 4 * 20  # windows 5 frames apart share 3 of their 4 picks


def test_video_ids_are_unique_when_stems_collide():
    from twostream.fusion.timeline.pipeline import video_ids

    paths = [Path("a/x.mp4"), Path("a/x.avi"), Path("b/x.mp4"), Path("c/v_y.avi"), Path("c/z.avi")]
    assert video_ids(paths, {"y": []}) == ["x.mp4", "x.avi", "x.mp4~2", "y", "z"]
