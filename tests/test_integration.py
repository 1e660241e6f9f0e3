"""The whole chain through the CLI on a tiny cartoon set: synth → extract → train RGB → train pose → fuse →
evaluate the fused run → predict with it → compare the RGB, pose and fused runs."""

from __future__ import annotations

import csv
import json

import pytest

from twostream.cli.main import main

pytest.importorskip("twostream.datasets.synth", reason="the cartoon generator is not there")
CLASSES = ("jump", "wave_red_flag", "squat")
TRAIN = ["--epochs", "1", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--clip-len", "4"]


def test_synth_to_compare_through_the_cli(tmp_path, capsys):
    data, rgb, pose, fused = (tmp_path / name for name in ("data", "rgb", "pose", "fused"))
    assert main(["synth", str(data), "--videos-per-class", "6", "--frames", "12", "--size", "96x72",
                 "--classes", ",".join(CLASSES)]) == 0
    assert main(["extract", str(data), "--workers", "1"]) == 0
    assert len(list(data.rglob("*.pose.npz"))) == 6 * len(CLASSES)
    assert main(["train", str(data), "--model", "fc", *TRAIN, "--out", str(rgb)]) == 0
    assert main(["train", str(data), "--model", "pose_gru", *TRAIN, "--out", str(pose)]) == 0
    assert main(["fuse", str(rgb), str(pose), "--out", str(fused)]) == 0
    assert {"fusion.json", "rgb.pt", "pose.pt"} <= {p.name for p in fused.iterdir()}

    capsys.readouterr()
    assert main(["evaluate", str(fused)]) == 0
    assert "fused:tuned ★" in capsys.readouterr().out
    metrics = json.loads((fused / "metrics.json").read_text())
    side = metrics["side_by_side"]
    assert set(side) == {"rgb", "pose", "fused:fixed", "fused:tuned", "fused:stacked", "fused:gated"}
    for key in ("accuracy", "top5", "macro_f1", "video_accuracy"):  # the chosen mode, where compare looks
        assert metrics[key] == side["fused:tuned"][key]
    assert metrics["model"] == "fused(tuned): fc+pose_gru"
    rows = list(csv.reader((fused / "confusion.csv").open()))
    assert sum(int(v) for r in rows[1:] for v in r[1:]) == metrics["num_videos"] == side["rgb"]["num_videos"] > 0
    assert (fused / "confusion.png").is_file()

    video = next((data / "jump").glob("*.avi"))
    capsys.readouterr()
    assert main(["predict", str(fused), str(video), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CLASSES) and "rgb stream top-1" in out and "pose stream top-1" in out
    assert main(["predict", str(pose), str(video), "--top", "1"]) == 0  # a single pose run: the same path
    assert "person found in" in capsys.readouterr().out

    assert main(["evaluate", str(rgb)]) == 0 and main(["evaluate", str(pose)]) == 0
    assert main(["compare", str(rgb), str(pose), str(fused), "--out", str(tmp_path)]) == 0
    models = {r["model"] for r in csv.DictReader((tmp_path / "comparison.csv").open())}
    assert models == {"fc", "pose_gru", "fused(tuned): fc+pose_gru"}
