"""`twostream fuse`, fused run directories, ``load_run`` / ``predict_window`` and the side-by-side evaluation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twostream.cli.main import main
from twostream.errors import CacheError, CheckpointError, VideoReadError
from twostream.fusion.evaluation import evaluate_fused, format_side_by_side, fuse_runs
from twostream.fusion.late import MODES
from twostream.fusion.run import load_run
from twostream.pose.cache import PoseCache, cache_path_for, save_cache, video_stamp
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.keypoint_data import CacheKeypoints
from twostream.streams.registry import build

CLASSES = ("Jump", "Wave")
FRAMES = 8


def write_cache(video: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(0.3, 0.7, (FRAMES, 33, 4)).astype(np.float32)
    detected = np.ones(FRAMES, bool)
    size, mtime = video_stamp(video)
    save_cache(PoseCache.from_single(landmarks=landmarks, world=landmarks.copy(), frame_indices=np.arange(FRAMES),
                         detected=detected, fps=25.0, num_frames=FRAMES, width=64, height=48, every=1,
                         mediapipe_version="test", video_size=size, video_mtime_ns=mtime),
               cache_path_for(video))


@pytest.fixture
def dataset(tmp_path, make_video):
    """UCF101 layout, 2 classes × 4 groups; group 1 is test and its videos are SENTINELS: garbage bytes, no
    cache — anything that reads them fails. Returns (root, test video paths, a function restoring them)."""
    root = tmp_path / "data"
    train, test = [], []
    for label, name in enumerate(CLASSES):
        for g in range(1, 5):
            rel = f"{name}/v_{name}_g{g:02d}_c01.avi"
            if g == 1:
                (root / name).mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(b"not a video")
                test.append(rel)
            else:
                write_cache(make_video(root / rel, num_frames=FRAMES, seed=label * 10 + g), seed=g)
                train.append(f"{rel} {label + 1}")
    (root / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    (root / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (root / "testlist01.txt").write_text("\n".join(test) + "\n")

    def restore() -> None:
        for i, rel in enumerate(test):
            write_cache(make_video(root / rel, num_frames=FRAMES, seed=100 + i), seed=100 + i)

    return root, [root / rel for rel in test], restore


def make_run(run: Path, arch: str, root: Path, classes=CLASSES, **kwargs) -> Path:
    torch.manual_seed(len(str(run)))
    kwargs = {"num_classes": len(classes), **kwargs}
    model = build(arch, **kwargs)
    save_checkpoint(run / "best.pt", {"model": model.state_dict(), "arch": arch, "arch_kwargs": kwargs,
                                      "classes": list(classes), "config": {}, "epoch": 1, "metrics": {}})
    (run / "config.json").write_text(json.dumps({"arch": arch, "data": {"root": str(root), "split": 1,
                                                                        "val_fraction": 0.34, "seed": 0}}))
    return run


@pytest.fixture
def runs(tmp_path, dataset):
    root = dataset[0]
    rgb = make_run(tmp_path / "rgb", "fc", root, clip_len=4, size=16, hidden=8)
    pose = make_run(tmp_path / "pose", "pose_gru", root, clip_len=4, layout="mediapipe33", hidden=8)
    return rgb, pose


def test_fuse_fits_on_validation_only(tmp_path, dataset, runs, monkeypatch):
    root, test_videos, restore = dataset
    seen: list[Path] = []
    original = CacheKeypoints.__call__
    monkeypatch.setattr(CacheKeypoints, "__call__", lambda self, v, i: (seen.append(Path(v)), original(self, v, i))[1])
    record = fuse_runs(*runs, tmp_path / "fused", mode="tuned")
    assert seen and not set(seen) & set(test_videos), "fusion must never read a test video"
    assert record["split"]["fit_on"] == "val" and record["split"]["num_videos"] == len(set(seen)) == 2
    assert set(record["params"]) == set(MODES) and record["mode"] == "tuned"
    fused = tmp_path / "fused"
    assert {p.name for p in fused.iterdir()} >= {"fusion.json", "rgb.pt", "pose.pt"}
    # the sentinels are live: evaluating on test does read them (and fails until they are real videos)
    with pytest.raises((VideoReadError, CacheError)):
        evaluate_fused(fused)
    restore()
    result = evaluate_fused(fused)
    assert result["num_videos"] == 2 and result["split"] == "test"
    assert set(result["results"]) == {"rgb", "pose", *(f"fused:{m}" for m in MODES)}
    assert 0.0 <= result["results"]["fused:stacked"]["accuracy"] <= 1.0
    assert format_side_by_side(result).row_count == 2 + len(MODES)


def test_fused_run_is_self_contained_and_round_trips(tmp_path, dataset, runs):
    root, _, restore = dataset
    restore()
    record = fuse_runs(*runs, tmp_path / "fused", mode="stacked")
    for run in runs:  # the fused run must not need the stream runs any more
        (run / "best.pt").unlink()
    predictor = load_run(tmp_path / "fused")
    assert predictor.classes == CLASSES and set(predictor.specs) == {"video", "keypoints"}
    assert predictor.fusion.to_dict() == record["params"]["stacked"]
    video = torch.randn(4, 3, 16, 16)
    keypoints = np.random.default_rng(0).uniform(0.2, 0.8, (4, 33, 4)).astype(np.float32)
    prediction = predictor.predict_window(video, keypoints)
    assert prediction.fused.shape == (2,) and set(prediction.per_stream) == {"rgb", "pose"}
    assert prediction.pose_detected_fraction == 1.0 and np.isclose(prediction.fused.sum(), 1.0)
    # with nobody in the window, gated fusion answers exactly what the RGB stream says
    gated = load_run(tmp_path / "fused", mode="gated")
    blank = gated.predict_window(video, np.zeros_like(keypoints))
    assert blank.pose_detected_fraction == 0.0
    np.testing.assert_allclose(blank.fused, blank.per_stream["rgb"], atol=1e-12)
    with pytest.raises(ValueError, match="pass keypoints"):
        predictor.predict_window(video, None)


def test_class_lists_must_match(tmp_path, dataset, runs):
    rgb, _ = runs
    other = make_run(tmp_path / "other", "pose_gru", dataset[0], classes=("Jump", "Run"), clip_len=4, hidden=8)
    with pytest.raises(CheckpointError, match="different class lists.*Run"):
        fuse_runs(rgb, other, tmp_path / "fused")
    with pytest.raises(CheckpointError, match="RGB run first"):
        fuse_runs(other, rgb, tmp_path / "fused")


def test_single_stream_runs_predict_videos(dataset, runs):
    root, _, restore = dataset
    restore()
    video = root / "Jump" / "v_Jump_g02_c01.avi"
    for run, role in zip(runs, ("rgb", "pose")):
        prediction = load_run(run).predict_video(video)
        assert set(prediction.per_stream) == {role} and prediction.fused.shape == (2,)
        np.testing.assert_array_equal(prediction.fused, prediction.per_stream[role])


def test_cli_fuse(tmp_path, dataset, runs, capsys):
    out = tmp_path / "fused"
    assert main(["fuse", str(runs[0]), str(runs[1]), "--out", str(out), "--mode", "gated", "--weight", "0.3"]) == 0
    record = json.loads((out / "fusion.json").read_text())
    assert record["mode"] == "gated" and record["params"]["gated"] == {"weight": 0.3, "tune": False}
    assert record["params"]["fixed"]["weight"] == 0.3 and record["format_version"] == 1
    assert "fused run written" in capsys.readouterr().out
    assert main(["fuse", str(runs[1]), str(runs[0]), "--out", str(out)]) == 2  # swapped: one-line error
    assert "error:" in capsys.readouterr().err


def test_predict_video_extracts_keypoints_on_the_fly(shared_data, tmp_path):
    video = shared_data / "clips" / "mmaction2_test.avi"  # a person in every frame, no cache beside it
    if not video.is_file():
        pytest.skip(f"{video} not found")
    run = make_run(tmp_path / "pose", "pose_stgcn", tmp_path, clip_len=4, layout="coco17", channels=(8, 16))
    prediction = load_run(run).predict_video(video)
    assert prediction.pose_detected_fraction == 1.0
    assert prediction.fused.shape == (2,) and np.isfinite(prediction.fused).all()


def test_cli_evaluate_predict_compare_a_fused_run(tmp_path, dataset, runs, capsys):
    root, test_videos, restore = dataset
    restore()
    fused = tmp_path / "fused"
    fuse_runs(*runs, fused, mode="stacked")
    assert main(["evaluate", str(fused), "--clips-per-video", "2"]) == 2  # one clip per video: said, not ignored
    assert main(["evaluate", str(fused)]) == 0
    metrics = json.loads((fused / "metrics.json").read_text())
    assert metrics["model"] == "fused(stacked): fc+pose_gru" and metrics["chosen"] == "stacked"
    assert metrics["accuracy"] == metrics["side_by_side"]["fused:stacked"]["accuracy"]
    assert set(metrics["side_by_side"]) == {"rgb", "pose", *(f"fused:{m}" for m in MODES)}
    assert (fused / "confusion.csv").is_file() and (fused / "confusion.png").is_file()
    assert (fused / "per-class.csv").read_text().startswith("class,support,rgb,pose,fused,gain")
    assert (fused / "per-class.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "streams disagree most" in out and "confused" in out
    assert main(["predict", str(fused), str(test_videos[0]), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "fused: stacked" in out and "rgb stream top-1" in out and "pose stream top-1" in out
    assert main(["evaluate", str(runs[0]), "--workers", "0"]) == 0
    assert main(["compare", str(fused), str(runs[0]), "--out", str(tmp_path), "--repeats", "0"]) == 0
    assert "fused(stacked): fc+pose_gru" in (tmp_path / "comparison.md").read_text()
    compared = {r["model"]: r for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    fused_cost, rgb_cost = compared["fused(stacked): fc+pose_gru"], compared["fc"]
    assert float(fused_cost["params_m"]) > float(rgb_cost["params_m"]) > 0  # both streams count
    assert fused_cost["cpu_ms"] == ""  # --repeats 0: not timed
    out = "".join(capsys.readouterr().out.split())  # rich wraps long paths
    assert "notrainingcurves" in out and str(fused).replace(" ", "") in out


def test_predict_output_draws_and_labels_every_tracked_person(tmp_path, make_video, capsys):
    from twostream.datasets.video import read_frames
    from twostream.pose.cache import video_digest
    from twostream.pose.draw import PERSON_COLOURS

    video = make_video(tmp_path / "two.avi", num_frames=FRAMES, size=(256, 144))
    keypoints = np.zeros((FRAMES, 2, 33, 4), np.float32)
    keypoints[..., 1], keypoints[..., 3] = np.linspace(0.3, 0.9, 33), 1.0
    keypoints[:, 0, :, 0], keypoints[:, 1, :, 0] = 0.1, 0.6  # slot 0 a line on the left, slot 1 on the right
    size, mtime = video_stamp(video)
    save_cache(PoseCache(keypoints=keypoints, world=keypoints.copy(), scores=np.ones((FRAMES, 2), np.float32),
                         track_ids=np.tile([0, 1], (FRAMES, 1)), frame_indices=np.arange(FRAMES), fps=25.0,
                         num_frames=FRAMES, width=256, height=144, every=1, backend="mediapipe", model="full",
                         mediapipe_version="test", video_size=size, video_mtime_ns=mtime,
                         video_digest=video_digest(video)), cache_path_for(video))
    run = make_run(tmp_path / "pose", "pose_gru", tmp_path, clip_len=4, layout="mediapipe33", hidden=8)
    out = tmp_path / "annotated.mp4"
    assert main(["predict", str(run), str(video), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "person P0:" in printed and "person P1:" in printed
    frames = read_frames(out, np.arange(FRAMES))  # (N, H, W, 3) RGB: every frame written
    import cv2

    id_width = cv2.getTextSize("P0 #0 ", cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)[0][0]  # the id tag alone
    for slot, (x0, x1) in enumerate(((26, 128), (154, 256))):  # each label in its person's colour, above them
        colour = np.array(PERSON_COLOURS[slot][::-1])  # BGR -> RGB
        near = np.abs(frames[:, :40, x0 + id_width:x1].astype(int) - colour).sum(-1) < 150  # thin text, mp4v
        assert near.sum() > 5 * FRAMES, f"no action label of slot {slot} after its id tag"
    assert main(["predict", str(run), str(video), "--output", str(out)]) == 2  # no silent overwrite
    assert "--overwrite" in capsys.readouterr().err
