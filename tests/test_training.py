"""The one training loop: schedule, learning, checkpoints, exact resume, DDP == one process, metrics files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from twostream.errors import CheckpointError
from twostream.streams.checkpoint import FORMAT_VERSION, load_model, read_checkpoint, save_checkpoint
from twostream.streams.data import DatasetBundle
from twostream.streams.registry import build
from twostream.streams.training import TrainConfig, evaluate, fit, loader_for, lr_at
from twostream.streams.distributed import DistEnv

# A stand-in for datasets.ClipDataset: in-memory clips, class k = a bright square in quadrant k plus noise.
BLOBS = textwrap.dedent('''
    import torch
    from torch.utils.data import Dataset

    class Blobs(Dataset):
        def __init__(self, n, classes=3, clip_len=2, size=8, seed=0, noise=0.3):
            g = torch.Generator().manual_seed(seed)
            self.labels = torch.arange(n) % classes
            self.videos = noise * torch.randn(n, clip_len, 3, size, size, generator=g)
            h = size // 2
            for i, k in enumerate(self.labels.tolist()):
                r, c = divmod(k, 2)
                self.videos[i, :, :, r * h:(r + 1) * h, c * h:(c + 1) * h] += 1.0

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return {"video": self.videos[i], "label": int(self.labels[i]), "video_index": i}
''')
_ns: dict = {}
exec(compile(BLOBS, "blobs", "exec"), _ns)
Blobs = _ns["Blobs"]
CLASSES = ("a", "b", "c")
KWARGS = {"num_classes": 3, "clip_len": 2, "size": 8, "hidden": 16}


def _bundle(n_train=24, n_val=12) -> DatasetBundle:
    return DatasetBundle(CLASSES, Blobs(n_train, seed=1), Blobs(n_val, seed=2), Blobs(n_val, seed=3))


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "batch_size": 4, "lr": 3e-3, "num_workers": 0, "device": "cpu",
                          "warmup_epochs": 0.5, **kw})


def _fit(out: Path, cfg: TrainConfig, resume=False, arch="fc", kwargs=KWARGS, classes=CLASSES):
    torch.manual_seed(0)
    model = build(arch, **kwargs)
    return fit(model, _bundle(), cfg, out, classes=classes, arch=arch, arch_kwargs=kwargs, resume=resume,
               progress=False)


@pytest.mark.parametrize("step,expected", [(0, 0.25), (3, 1.0), (4, 1.0), (9, 0.5), (14, 0.0), (99, 0.0)])
def test_lr_warms_up_linearly_then_decays_by_cosine(step, expected):
    assert lr_at(step, base_lr=1.0, warmup_steps=4, total_steps=14) == pytest.approx(expected)


def test_config_rejects_bad_values_by_name():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


def test_a_small_model_learns_separable_clips(tmp_path):
    result = _fit(tmp_path, _cfg(epochs=6))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_accuracy >= 0.9  # chance is 1/3
    assert {p.name for p in tmp_path.iterdir()} >= {"last.pt", "best.pt", "config.json", "history.csv"}
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["arch"] == "fc" and config["classes"] == list(CLASSES) and config["config"]["epochs"] == 6


def test_default_epochs_give_a_small_set_as_many_steps_as_a_large_one():
    from twostream.streams.training import AUTO_EPOCHS, AUTO_STEPS

    auto = TrainConfig()
    assert auto.epochs_for(1190) == AUTO_EPOCHS[0]  # UCF101 split 1 at 8 clips per step: the floor
    assert auto.epochs_for(21) == -(-AUTO_STEPS // 21)  # ~170 keypoint sequences: many passes
    assert auto.epochs_for(1) == AUTO_EPOCHS[1]
    assert TrainConfig(epochs=3).epochs_for(21) == 3  # a given number is kept


def test_a_run_with_default_epochs_records_and_resumes_the_number_it_chose(tmp_path, monkeypatch):
    from twostream.cli.cmd_train import _finished
    from twostream.streams import training

    monkeypatch.setattr(training, "AUTO_STEPS", 12)
    monkeypatch.setattr(training, "AUTO_EPOCHS", (2, 10))
    result = _fit(tmp_path, _cfg(epochs=None))  # 24 clips of 4: 6 steps per epoch -> 2 epochs
    assert len(result.history) == 2
    assert json.loads((tmp_path / "config.json").read_text())["config"]["epochs"] == 2
    assert read_checkpoint(tmp_path / "last.pt")["config"]["epochs"] == 2
    assert _finished(tmp_path, None) == 2  # --resume without --epochs: the run's own number is done
    assert _finished(tmp_path, 5) == 0  # --resume --epochs 5 trains on


def test_checkpoint_round_trip_rebuilds_the_model_from_the_file_alone(tmp_path):
    _fit(tmp_path, _cfg(epochs=1))
    ckpt = read_checkpoint(tmp_path / "last.pt")
    assert ckpt["format_version"] == FORMAT_VERSION and ckpt["epoch"] == 1
    assert {"model", "optimizer", "scheduler", "scaler", "config", "classes", "arch", "arch_kwargs"} <= set(ckpt)
    model = load_model(tmp_path / "last.pt", expect_arch="fc", expect_classes=CLASSES)
    reference = build("fc", **KWARGS)
    reference.load_state_dict(ckpt["model"])
    x = Blobs(4).videos
    assert torch.equal(model(x), reference.eval()(x))
    out = evaluate(model, loader_for(Blobs(6), _cfg(), env=DistEnv(0, 1, 0), epoch=0, train=False), "cpu")
    assert out.probs.shape == (6, 3) and np.allclose(out.probs.sum(1), 1, atol=1e-5)
    assert out.video_index.tolist() == list(range(6))


def test_resumed_run_reproduces_the_uninterrupted_losses(tmp_path):
    straight = _fit(tmp_path / "straight", _cfg(epochs=3))

    def interrupt(row):
        raise KeyboardInterrupt  # Ctrl-C right after the first epoch's checkpoint

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        fit(build("fc", **KWARGS), _bundle(), _cfg(epochs=3), tmp_path / "cut", classes=CLASSES, arch="fc",
            arch_kwargs=KWARGS, progress=False, on_epoch=interrupt)
    assert read_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 1
    torch.manual_seed(123)  # the global RNG state at resume time must not matter
    resumed = _fit(tmp_path / "cut", _cfg(epochs=3), resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for a, b in zip(straight.history, resumed.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-6)
    s = read_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    r = read_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    assert all(torch.allclose(s[k], r[k], atol=1e-6) for k in s)


def test_early_stopping_stops_after_patience(tmp_path):
    result = _fit(tmp_path, _cfg(epochs=20, lr=1e-9, warmup_epochs=0, patience=2))  # nothing improves
    assert result.stopped_early and len(result.history) == 3


@pytest.mark.parametrize("arch,kwargs,classes,match", [
    ("cnn_lstm", {"num_classes": 3, "clip_len": 2, "size": 8}, CLASSES, "holds a 'fc' model"),
    ("fc", KWARGS, ("a", "b", "zebra"), "only in the run: c; only in the data: zebra"),
])
def test_resume_from_another_architecture_or_class_list_is_refused(tmp_path, arch, kwargs, classes, match):
    _fit(tmp_path, _cfg(epochs=1))
    with pytest.raises(CheckpointError, match=match):
        _fit(tmp_path, _cfg(epochs=2), resume=True, arch=arch, kwargs=kwargs, classes=classes)
    with pytest.raises(CheckpointError, match=match):
        load_model(tmp_path / "best.pt", expect_arch=arch, expect_classes=classes)


def test_not_a_checkpoint_and_unknown_version_are_clear_errors(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a twostream checkpoint"):
        load_model(tmp_path / "plain.pt")
    torch.save({"format_version": 99, "arch": "fc"}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_model(tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


DDP_SCRIPT = BLOBS + textwrap.dedent('''
    import sys
    import torch
    from twostream.streams.data import DatasetBundle
    from twostream.streams.registry import build
    from twostream.streams.training import TrainConfig, fit

    torch.set_num_threads(1)
    out, batch = sys.argv[1], int(sys.argv[2])
    kwargs = {"num_classes": 3, "clip_len": 2, "size": 8, "hidden": 16}
    torch.manual_seed(0)
    model = build("fc", **kwargs)
    data = DatasetBundle(("a", "b", "c"), Blobs(24, seed=1), Blobs(12, seed=2), None)
    cfg = TrainConfig(epochs=2, batch_size=batch, lr=3e-3, num_workers=0, device="cpu", warmup_epochs=0.5)
    fit(model, data, cfg, out, classes=data.classes, arch="fc", arch_kwargs=kwargs, progress=False)
''')


def test_two_gloo_processes_match_one_process(tmp_path):
    script = tmp_path / "train_blobs.py"
    script.write_text(DDP_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "4"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                          str(script), str(tmp_path / "two"), "2"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    a = read_checkpoint(tmp_path / "one" / "last.pt")
    b = read_checkpoint(tmp_path / "two" / "last.pt")
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-5), k
    for ra, rb in zip(a["state"]["history"], b["state"]["history"]):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], abs=1e-5)
