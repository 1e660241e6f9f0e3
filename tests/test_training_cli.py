"""End to end on generated cartoon videos: a small model learns them; train → evaluate → compare → predict."""

from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.streams import metrics as M

synth = pytest.importorskip("twostream.datasets.synth", reason="helper B's cartoon generator is not there yet")
CLASSES = ["jump", "wave_red_flag", "squat"]


@pytest.fixture(scope="module")
def cartoon(tmp_path_factory):
    root = tmp_path_factory.mktemp("cartoon")
    synth.generate(root, videos_per_class=4, seed=0, frames=12, size=(64, 48), classes=CLASSES)
    return root


def test_cli_train_evaluate_compare_predict(cartoon, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(cartoon), "--model", "cnn_lstm", "--clip-len", "4", "--epochs", "1",
                 "--batch-size", "4", "--workers", "0", "--device", "cpu", "--out", str(run)]) == 0
    assert {"last.pt", "best.pt", "config.json", "history.csv", "curves.png"} <= {p.name for p in run.iterdir()}
    assert main(["evaluate", str(run), "--clips-per-video", "2", "--workers", "0"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["num_clips"] == 2 * metrics["num_videos"] > 0
    assert set(metrics["per_class"]) == set(CLASSES)
    for key in ("accuracy", "top5", "macro_f1", "mean_class_accuracy", "video_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    rows = list(csv.reader((run / "confusion.csv").open()))
    assert len(rows) == 1 + len(CLASSES) and sum(int(v) for r in rows[1:] for v in r[1:]) == metrics["num_clips"]
    assert (run / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "clip accuracy" in out and "video accuracy" in out
    assert main(["compare", str(run), str(run), "--out", str(tmp_path), "--repeats", "1"]) == 0
    assert "cnn_lstm" in (tmp_path / "comparison.md").read_text()
    compared = list(csv.DictReader((tmp_path / "comparison.csv").open()))
    assert len(compared) == 2 and all(float(r["gflops"]) > 0 and float(r["cpu_ms"]) > 0 for r in compared)
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "GFLOP" in capsys.readouterr().out  # the cost columns (rich wraps headers at 80 columns)
    video = next(cartoon.glob("jump/*.avi"))
    capsys.readouterr()
    assert main(["predict", str(run), str(video), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert sum(name in out for name in CLASSES) == 2


def test_cli_user_errors_are_one_line_exit_2(cartoon, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert main(["compare", str(tmp_path)]) == 2
    assert "twostream evaluate" in capsys.readouterr().err
    assert main(["train", str(cartoon), "--model", "r3d_19", "--workers", "0", "--out", str(tmp_path / "r")]) == 2
    assert "available:" in capsys.readouterr().err


def test_offline_pretrained_training_fails_with_the_fix(cartoon, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    code = main(["train", str(cartoon), "--model", "r3d_18", "--clip-len", "2", "--epochs", "1", "--workers", "0",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "--no-pretrained" in err and "Traceback" not in err


def test_train_help_says_what_every_registered_model_expects(capsys):
    from twostream.streams.registry import available

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert [name for name in available() if name not in out] == []
    assert "exactly 16 frames" in out and "7 frames or more" in out


def _tinted_videos(root, classes=("red", "green", "blue"), per_class=6, frames=8):
    """Trivially separable videos: class k's frames are tinted with colour k (any crop keeps it), plus noise."""
    import cv2

    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for g in range(1, per_class + 1):
            writer = cv2.VideoWriter(str(root / name / f"v_{name}_g{g:02d}_c01.avi"),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25, (40, 32))
            for _ in range(frames):
                frame = rng.integers(0, 120, (32, 40, 3)).astype(np.uint8)
                frame[..., 2 - k] += 120  # BGR: red, green, blue
                writer.write(frame)
            writer.release()
    return root


def test_cnn_lstm_learns_separable_videos_well_above_chance(tmp_path):
    import torch

    from twostream.streams.data import build_datasets
    from twostream.streams.registry import build
    from twostream.streams.training import TrainConfig, fit

    root = _tinted_videos(tmp_path / "tinted")
    torch.manual_seed(0)
    kwargs = {"num_classes": 3, "clip_len": 4, "size": 24}
    model = build("cnn_lstm", **kwargs)
    data = build_datasets(root, model.input_spec)
    cfg = TrainConfig(epochs=6, batch_size=4, lr=3e-3, num_workers=0, device="cpu", warmup_epochs=1)
    result = fit(model, data._replace(val=data.test), cfg, tmp_path / "run", classes=data.classes,
                 arch="cnn_lstm", arch_kwargs=kwargs, progress=False)
    assert result.best_accuracy > 0.8, result.history  # on held-out videos; chance: 1/3


def test_metrics_on_known_predictions(tmp_path):
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7], [0.4, 0.35, 0.25]])
    labels = np.array([0, 1, 1, 2, 2])
    video = np.array([0, 1, 1, 2, 2])
    m = M.summarise(probs, labels, video, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["video_accuracy"] == pytest.approx(3 / 3)  # averaging rescues clips 1 and 4
    assert m["num_videos"] == 3 and m["num_clips"] == 5
    assert m["per_class"]["a"]["precision"] == pytest.approx(1 / 3) and m["per_class"]["a"]["recall"] == 1.0
    assert m["mean_class_accuracy"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert M.top_k(probs, labels, 1) == pytest.approx(0.6)
    cm = M.confusion(labels, probs.argmax(1), 3)
    assert cm.tolist() == [[1, 0, 0], [1, 1, 0], [1, 0, 1]]
    M.plot_confusion(np.random.default_rng(0).integers(0, 5, (101, 101)), [f"class_{i}" for i in range(101)],
                     tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 10_000


def _coco17_pickle(path, classes=3, groups=4, frames=10):
    """A pyskl-style ``{split, annotations}`` COCO-17 pickle (like the shared ucf101_*_coco17.pkl), group 1 = test."""
    rng = np.random.default_rng(0)
    annotations, names = [], []
    for label in range(classes):
        for g in range(1, groups + 1):
            name = f"v_C{label}_g{g:02d}_c01"
            names.append(name)
            annotations.append({"frame_dir": name, "label": label, "img_shape": (240, 320), "total_frames": frames,
                                "keypoint": rng.uniform(0, 240, (1, frames, 17, 2)).astype(np.float32),
                                "keypoint_score": rng.uniform(0.5, 1, (1, frames, 17)).astype(np.float32)})
    split = {"train1": [n for n in names if "_g01_" not in n], "test1": [n for n in names if "_g01_" in n]}
    path.write_bytes(pickle.dumps({"split": split, "annotations": annotations}))
    return path


def test_pose_model_trains_on_a_coco17_pickle_without_a_layout_flag(tmp_path, capsys):
    from twostream.streams.checkpoint import read_checkpoint

    pkl = _coco17_pickle(tmp_path / "skeletons.pkl")
    common = ["--model", "pose_gru", "--clip-len", "6", "--epochs", "1", "--batch-size", "4", "--workers", "0",
              "--device", "cpu", "--train-split", "train1", "--test-split", "test1"]
    run = tmp_path / "run"
    assert main(["train", str(pkl), *common, "--out", str(run)]) == 0  # layout inferred: the pickle's coco17
    ckpt = read_checkpoint(run / "best.pt")
    assert ckpt["arch_kwargs"]["layout"] == "coco17"
    assert main(["evaluate", str(run), "--workers", "0"]) == 0  # a single-stream pose run evaluates too
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["arch"] == "pose_gru" and metrics["num_videos"] == 3  # the three g01 test skeletons
    capsys.readouterr()
    assert main(["train", str(pkl), *common, "--layout", "mediapipe33", "--out", str(tmp_path / "bad")]) == 2
    assert "--layout coco17" in capsys.readouterr().err  # the override is honoured, and refused with the fix
    assert main(["train", str(pkl), "--model", "fc", "--layout", "coco17", "--out", str(tmp_path / "rgb")]) == 2
    assert "drop --layout" in capsys.readouterr().err


def test_persons_flag_sets_the_keypoint_models_person_slots_and_is_refused_for_pixels(tmp_path, capsys):
    from twostream.streams.checkpoint import read_checkpoint

    pkl = _coco17_pickle(tmp_path / "skeletons.pkl")
    common = ["--clip-len", "6", "--epochs", "1", "--batch-size", "4", "--workers", "0", "--device", "cpu",
              "--train-split", "train1", "--test-split", "test1"]
    run = tmp_path / "run"
    assert main(["train", str(pkl), "--model", "pose_gru", "--persons", "3", *common, "--out", str(run)]) == 0
    assert read_checkpoint(run / "best.pt")["arch_kwargs"]["persons"] == 3  # the flag wins over the pickle's 1
    capsys.readouterr()
    assert main(["train", str(pkl), "--model", "fc", "--persons", "2", "--out", str(tmp_path / "rgb")]) == 2
    assert "drop --persons" in capsys.readouterr().err


def test_build_datasets_passes_split_settings_to_keypoint_streams(tmp_path, make_video):
    """split_dir, val_fraction and clips_per_video reach the keypoint datasets as they reach the video ones."""
    from twostream.pose.cache import PoseCache, cache_path_for, save_cache, video_stamp
    from twostream.streams.base import InputSpec
    from twostream.streams.data import build_datasets

    root, lists = tmp_path / "data", tmp_path / "lists"  # split files outside ROOT: only split_dir finds them
    lists.mkdir()
    train, test = [], []
    for label, name in enumerate(("Jump", "Wave")):
        for g in range(1, 6):
            rel = f"{name}/v_{name}_g{g:02d}_c01.avi"
            video = make_video(root / rel, num_frames=6, seed=g)
            size, mtime = video_stamp(video)
            kp = np.full((6, 33, 4), 0.5, np.float32)
            save_cache(PoseCache.from_single(landmarks=kp, world=kp, frame_indices=np.arange(6), detected=np.ones(6, bool),
                                 fps=25.0, num_frames=6, width=64, height=48, every=1,
                                 mediapipe_version="test", video_size=size, video_mtime_ns=mtime),
                       cache_path_for(video))
            (test if g == 1 else train).append(f"{rel} {label + 1}" if g > 1 else rel)
    (lists / "classInd.txt").write_text("1 Jump\n2 Wave\n")
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n")
    spec = InputSpec(key="keypoints", clip_len=4, layout="mediapipe33")
    bundle = build_datasets(root, spec, split_dir=lists, val_fraction=0.5, clips_per_video=3)
    assert bundle.classes == ("Jump", "Wave") and bundle.meta["split_dir"] == str(lists)
    assert len(bundle.test) == 3 * 2  # 3 clips of each g01 video
    assert len(bundle.val) == 3 * 4 and len(bundle.train) == 4  # half of the 8 training videos, whole groups
    assert bundle.test[0]["keypoints"].shape == (4, 1, 33, 4)


class _EpochRecorder:
    """A training set that records ``set_epoch`` calls and draws its noise from the epoch it was given."""

    def __init__(self, n=8):
        self.n, self.epochs, self.epoch = n, [], 0

    def __len__(self):
        return self.n

    def set_epoch(self, epoch):
        self.epochs.append(epoch)
        self.epoch = epoch

    def __getitem__(self, i):
        import torch

        g = torch.Generator().manual_seed(self.epoch * 1000 + i)
        return {"video": torch.randn(2, 3, 8, 8, generator=g), "label": i % 2, "video_index": i}


def test_fit_tells_the_training_data_each_epoch(tmp_path):
    """Augmentation seeded by (seed, epoch, index) must see a new epoch each pass, including after a resume."""
    from twostream.streams.data import DatasetBundle
    from twostream.streams.registry import build
    from twostream.streams.training import TrainConfig, fit

    kwargs = {"num_classes": 2, "clip_len": 2, "size": 8, "hidden": 4}
    cfg = TrainConfig(epochs=3, batch_size=4, num_workers=0, device="cpu")
    data = DatasetBundle(("a", "b"), _EpochRecorder(), None, None)
    fit(build("fc", **kwargs), data, cfg, tmp_path / "run", classes=("a", "b"), arch="fc", arch_kwargs=kwargs,
        progress=False)
    assert data.train.epochs == [0, 1, 2]
    more = DatasetBundle(("a", "b"), _EpochRecorder(), None, None)
    fit(build("fc", **kwargs), more, TrainConfig(**{**cfg.__dict__, "epochs": 4}), tmp_path / "run",
        classes=("a", "b"), arch="fc", arch_kwargs=kwargs, resume=True, progress=False)
    assert more.train.epochs == [3]
