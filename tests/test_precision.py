"""Precision of torch streams (``fusion.backends.resolve_precision``): ``auto`` is bf16 exactly where the hardware
computes it natively, a bf16 RGB stream answers within 0.02 of fp32, channels-last fp32 equals the contiguous
model, keypoint streams and ONNX exports stay fp32, and the CLI's ``--precision`` reaches ``load_run``."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from scipy.special import softmax

from twostream.cli.main import main
from twostream.fusion import run
from twostream.fusion.backends import TorchBackend, resolve_precision
from twostream.fusion.features import FrameFeatureCache
from twostream.fusion.run import RunPredictor, load_run
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build

CLASSES = ["wave", "jump", "sit", "run", "clap"]


def _model(arch: str, **kwargs) -> torch.nn.Module:
    """A random-init stream whose logits spread like a trained model's (std ~3), so that softmax differences
    between precisions are not hidden by near-uniform probabilities."""
    torch.manual_seed(0)
    model = build(arch, num_classes=len(CLASSES), **kwargs).eval()
    x = torch.randn(4, *_shape(model))
    with torch.inference_mode():
        model.head.weight.mul_(3 / model(x).std())
    return model


def _shape(model: torch.nn.Module) -> tuple[int, ...]:
    spec = model.input_spec
    return (spec.clip_len, 3, spec.size, spec.size) if spec.key == "video" else (spec.clip_len, 33, 4)


def _native(monkeypatch, amx: bool, avx512_bf16: bool = False) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)


@pytest.mark.parametrize("amx, avx512_bf16, expected", [(True, False, "bf16"), (False, True, "bf16"),
                                                        (False, False, "fp32")])
def test_auto_is_bf16_only_on_a_cpu_that_computes_it_natively(monkeypatch, amx, avx512_bf16, expected):
    _native(monkeypatch, amx, avx512_bf16)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"  # as asked
    assert resolve_precision("auto", "cpu", key="keypoints") == "fp32"  # coordinates: never rounded to bf16
    assert resolve_precision("bf16", "cpu", key="keypoints") == "fp32"


@pytest.mark.parametrize("bf16", [True, False])
def test_auto_on_cuda_follows_the_gpus_bf16_support(monkeypatch, bf16):
    _native(monkeypatch, amx=True)  # the host CPU does not decide for a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert resolve_precision("auto", "cuda") == ("bf16" if bf16 else "fp32")


def test_a_bad_precision_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match=r"'fp16' is not one of auto, fp32, bf16"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="fp16"):  # before any checkpoint is read: the folder does not exist
        load_run(tmp_path / "missing", precision="fp16")


@pytest.mark.parametrize("arch, kwargs", [("r3d_18", {"clip_len": 4, "size": 32}),
                                          ("resnet50_lstm", {"clip_len": 4, "size": 32}),
                                          ("cnn_lstm", {"clip_len": 4, "size": 32})])
def test_bf16_scores_are_within_two_hundredths_of_fp32(arch, kwargs):
    # bf16 keeps 8 mantissa bits (relative rounding 2^-9) and oneDNN accumulates in fp32, so logits move by about a
    # percent through a ResNet; with logits spread like a trained model's, that moves a probability by well under
    # 0.02 — a difference that only flips answers that were ties anyway.
    model = _model(arch, **kwargs)
    x = torch.randn(3, *_shape(model))
    fp32, bf16 = TorchBackend(copy.deepcopy(model)), TorchBackend(copy.deepcopy(model), precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    expected, got = softmax(fp32.logits(x), axis=1), softmax(bf16.logits(x), axis=1)
    assert got.dtype == np.float32  # answers are float32 whatever the stream computes in
    assert 0 < np.abs(got - expected).max() < 0.02  # > 0: it really ran in bf16
    if bf16.frame_wise:  # the streaming path (per-frame features, then the head) in bf16 too
        streamed = softmax(FrameFeatureCache(bf16).logits(np.arange(4), x[0]), axis=1)  # (1, C)
        assert np.abs(streamed - expected[:1]).max() < 0.02


@pytest.mark.parametrize("arch, kwargs", [("r3d_18", {"clip_len": 4, "size": 32}),
                                          ("resnet50_lstm", {"clip_len": 4, "size": 32})])
def test_channels_last_fp32_equals_the_contiguous_model(arch, kwargs):
    model = _model(arch, **kwargs)
    x = torch.randn(2, *_shape(model))
    with torch.inference_mode():
        expected = model(x).numpy()
    backend = TorchBackend(copy.deepcopy(model))
    conv = next(m for m in backend.model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    layout = torch.channels_last if conv.weight.dim() == 4 else torch.channels_last_3d
    assert conv.weight.is_contiguous(memory_format=layout)
    np.testing.assert_allclose(backend.logits(x), expected, atol=1e-4, rtol=0)


def test_keypoint_streams_stay_fp32_in_a_bf16_run():
    predictor = RunPredictor({"rgb": _model("r3d_18", clip_len=4, size=32),
                              "pose": build("pose_stgcn", num_classes=5, clip_len=6, channels=(8, 16))}, CLASSES,
                             precision="bf16")
    assert {role: b.precision for role, b in predictor.backends.items()} == {"rgb": "bf16", "pose": "fp32"}
    assert next(predictor.models["pose"].parameters()).dtype == torch.float32


def _run_dir(tmp_path) -> str:
    model = _model("r3d_18", clip_len=4, size=32)
    save_checkpoint(tmp_path / "run" / "best.pt", {"model": model.state_dict(), "arch": "r3d_18",
                                                   "arch_kwargs": {"num_classes": 5, "clip_len": 4, "size": 32},
                                                   "classes": CLASSES, "config": {}, "epoch": 1, "metrics": {}})
    return str(tmp_path / "run")


def test_load_run_is_fp32_unless_asked_and_onnx_refuses_bf16(tmp_path):
    from twostream.fusion.export import export_onnx

    run_dir = _run_dir(tmp_path)
    assert load_run(run_dir).backends["rgb"].precision == "fp32"  # evaluation's exact scores by default
    assert load_run(run_dir, precision="bf16").backends["rgb"].precision == "bf16"
    export_onnx(run_dir, tmp_path / "onnx")
    assert load_run(tmp_path / "onnx", precision="auto").backends["rgb"].precision == "fp32"
    with pytest.raises(ValueError, match="ONNX export.*fp32"):
        load_run(tmp_path / "onnx", precision="bf16")


def test_live_runs_and_says_its_precision(tmp_path, make_video, capsys):
    video = make_video(tmp_path / "in.avi", num_frames=10, size=(64, 48))
    log = tmp_path / "preds.jsonl"
    assert main(["live", _run_dir(tmp_path), "--source", str(video), "--no-window", "--deterministic",
                 "--stride", "3", "--log", str(log), "--precision", "bf16"]) == 0
    assert "precision: rgb bf16" in capsys.readouterr().out
    fused = [json.loads(line)["fused"] for line in log.read_text().splitlines()]
    assert fused and all(abs(sum(p) - 1) < 1e-3 for p in fused)


@pytest.mark.parametrize("command, default", [("live", "auto"), ("timeline", "auto"), ("predict", "fp32")])
def test_cli_precision_flag_reaches_load_run(command, default, tmp_path, make_video, monkeypatch, capsys):
    video = str(make_video(tmp_path / "in.avi", num_frames=4))
    argv = {"live": ["--source", video, "--no-window", "--max-frames", "1"], "timeline": [video, "--out",
            str(tmp_path / "tl")], "predict": [video]}[command]
    asked = []

    def fake_load_run(run_dir, device="cpu", **options):
        asked.append(options.get("precision"))
        raise ValueError("stop here")  # the flag has reached load_run: nothing further to test

    monkeypatch.setattr(run, "load_run", fake_load_run)
    for extra in ([], ["--precision", "bf16"]):
        assert main([command, str(tmp_path), *argv, *extra]) == 2
    assert asked == [default, "bf16"]
    with pytest.raises(SystemExit) as exc:
        main([command, str(tmp_path), *argv, "--precision", "fp16"])
    assert exc.value.code == 2 and "invalid choice: 'fp16'" in capsys.readouterr().err
