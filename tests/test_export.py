"""`twostream export --onnx`: onnxruntime reproduces PyTorch, and the live demo runs on the exported folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from twostream.cli.main import main
from twostream.datasets.sampling import Sampling
from twostream.errors import CheckpointError
from twostream.fusion.export import example_input, export_onnx
from twostream.fusion.run import load_run
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

CLASSES = ["wave", "jump", "sit"]


def write_run(run_dir: Path, arch: str, name: str = "best.pt", **arch_kwargs) -> torch.nn.Module:
    """A tiny training run: a randomly initialised model saved as a checkpoint (no training needed here)."""
    torch.manual_seed(0)
    arch_kwargs = {"num_classes": len(CLASSES), **arch_kwargs}
    model = build(arch, **arch_kwargs).eval()
    # a checkpoint without a "sampling" record is an older run: segment sampling, as loading reads it
    model.input_spec = replace(model.input_spec, sampling=Sampling())
    save_checkpoint(run_dir / name, {"model": model.state_dict(), "arch": arch, "arch_kwargs": arch_kwargs,
                                     "classes": CLASSES, "config": {}, "epoch": 1, "metrics": {}})
    return model


@pytest.mark.parametrize("arch, kwargs", [
    ("r3d_18", {"clip_len": 4, "size": 32}),
    ("pose_stgcn", {"clip_len": 6, "channels": (8, 16)}),
    ("pose_gru", {"clip_len": 6, "hidden": 16}),
    ("pose_transformer", {"clip_len": 6, "dim": 16, "heads": 2, "depth": 1}),
])
def test_onnxruntime_matches_pytorch(tmp_path, arch, kwargs):
    model = write_run(tmp_path / "run", arch, **kwargs)
    result = export_onnx(tmp_path / "run", tmp_path / "onnx")
    key = model.input_spec.key
    assert result.max_abs_diff[key] <= 1e-4
    predictor = load_run(tmp_path / "onnx")
    assert predictor.classes == tuple(CLASSES) and predictor.specs[key] == model.input_spec
    x = example_input(model.input_spec, batch=1, seed=7)  # (1, T, ...)
    with torch.inference_mode():
        expected = torch.softmax(model(x), dim=1)[0].numpy()  # (C,)
    got = predictor.predict_window(**{key: x[0].numpy()})
    np.testing.assert_allclose(got.fused, expected, atol=1e-4)
    manifest = json.loads((tmp_path / "onnx" / "export.json").read_text())
    assert manifest["classes"] == CLASSES and manifest["fusion"] is None


def test_dynamic_batch_axis(tmp_path):
    import onnxruntime as ort

    model = write_run(tmp_path / "run", "pose_gru", clip_len=4, hidden=8)
    export_onnx(tmp_path / "run", tmp_path / "onnx")
    session = ort.InferenceSession(str(tmp_path / "onnx" / "pose.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = example_input(model.input_spec, batch=batch).numpy()  # (B, 4, [M,] 33, 4)
        assert session.run(None, {"input": x})[0].shape == (batch, 3)


def test_export_cli_then_live_on_the_export(tmp_path, make_video, capsys):
    write_run(tmp_path / "run", "fc", clip_len=4, size=16, hidden=8)
    assert main(["export", str(tmp_path / "run"), "--onnx", str(tmp_path / "onnx")]) == 0
    assert (tmp_path / "onnx" / "rgb.onnx").is_file()
    video = make_video(tmp_path / "in.avi", num_frames=10)
    log = tmp_path / "preds.jsonl"
    assert main(["live", str(tmp_path / "onnx"), "--source", str(video), "--no-window", "--deterministic",
                 "--log", str(log), "--stride", "3", "--smooth", "1"]) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["frame"] for r in records] == [3, 6, 9]
    assert np.isclose(sum(records[0]["fused"]), 1.0) and records[0]["top5"][0][0] in CLASSES


def test_live_on_a_frame_wise_export_runs_the_split_and_scores_as_torch(tmp_path, make_video):
    write_run(tmp_path / "run", "cnn_lstm", clip_len=4, size=16, hidden=8)
    export_onnx(tmp_path / "run", tmp_path / "onnx")
    assert load_run(tmp_path / "onnx").frame_wise == {"video"}  # backbone and head: features once per frame
    video = make_video(tmp_path / "in.avi", num_frames=14)
    logs = {}
    for name in ("run", "onnx"):
        logs[name] = tmp_path / f"{name}.jsonl"
        assert main(["live", str(tmp_path / name), "--source", str(video), "--no-window", "--deterministic",
                     "--log", str(logs[name]), "--stride", "2", "--smooth", "1", "--frame-step", "2",
                     "--precision", "fp32"]) == 0  # the export runs fp32: compare like with like
    torch_run, onnx_run = ([json.loads(line) for line in logs[n].read_text().splitlines()] for n in ("run", "onnx"))
    assert len(onnx_run) == len(torch_run) >= 3
    for got, expected in zip(onnx_run, torch_run):
        assert got["frame"] == expected["frame"]
        np.testing.assert_allclose(got["fused"], expected["fused"], atol=1e-4)


def test_missing_export_manifest_is_a_checkpoint_error(tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "export.json").write_text('{"format_version": 99}')
    with pytest.raises(CheckpointError, match="format_version"):
        load_run(tmp_path / "onnx")


def test_fused_export_predicts_like_the_fused_run(tmp_path):
    from twostream.fusion.run import write_fused_run

    write_run(tmp_path / "rgb", "fc", clip_len=4, size=16, hidden=8)
    write_run(tmp_path / "pose", "pose_gru", clip_len=5, layout="coco17", hidden=8)
    record = {"mode": "gated", "params": {"gated": {"weight": 0.3}}, "classes": CLASSES, "streams": {}}
    fused = write_fused_run(tmp_path / "fused", record, {"rgb": tmp_path / "rgb" / "best.pt",
                                                         "pose": tmp_path / "pose" / "best.pt"})
    result = export_onnx(fused, tmp_path / "onnx")
    assert set(result.files) == {"video", "keypoints"}
    torch_run, onnx_run = load_run(fused), load_run(tmp_path / "onnx")
    rng = np.random.default_rng(0)
    video = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    keypoints = rng.random((5, 33, 4), dtype=np.float32)  # MediaPipe-33, reduced to COCO-17 by both
    keypoints[:2] = 0  # no person in two frames: the gate must see detected_fraction 0.6 in both
    expected = torch_run.predict_window(video=torch.from_numpy(video), keypoints=keypoints)
    got = onnx_run.predict_window(video=video, keypoints=keypoints)
    np.testing.assert_allclose(got.fused, expected.fused, atol=1e-5)
    for name in ("rgb", "pose"):
        np.testing.assert_allclose(got.per_stream[name], expected.per_stream[name], atol=1e-5)
    assert got.pose_detected_fraction == pytest.approx(expected.pose_detected_fraction) == pytest.approx(0.6)


def test_export_without_onnx_installed_says_how_to_get_it(monkeypatch, tmp_path):
    import importlib.util

    from twostream.errors import TwostreamError
    from twostream.fusion.export import export_onnx

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(TwostreamError, match=r"twostream\[export\]"):
        export_onnx(tmp_path / "run", tmp_path / "out")
