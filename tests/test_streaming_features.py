"""Frame-wise streams (cnn_lstm, resnet50_lstm) stream: each sampled frame goes through the backbone once and a
prediction runs the temporal head over cached features, with the clip path's scores (within 1e-4), in torch and
on an ONNX export split into backbone and head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twostream.fusion.export import export_onnx
from twostream.fusion.features import FrameFeatureCache, is_frame_wise
from twostream.fusion.run import load_run
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build


def _onnx_backend(model: torch.nn.Module, arch: str, kwargs: dict, tmp_path):
    """The stream of ``model`` exported to ONNX and opened again (its backbone and head split)."""
    save_checkpoint(tmp_path / "run" / "best.pt", {"model": model.state_dict(), "arch": arch, "arch_kwargs": kwargs,
                                                   "classes": list("abcde"), "config": {}, "epoch": 1, "metrics": {}})
    result = export_onnx(tmp_path / "run", tmp_path / "onnx")
    assert result.max_abs_diff["video"] <= 1e-4
    backend = load_run(tmp_path / "onnx").backends["rgb"]
    assert backend.frame_wise and not load_run(tmp_path / "onnx").models  # onnxruntime, no torch module
    return backend


@pytest.mark.parametrize("arch, size, runtime", [("cnn_lstm", 32, "torch"), ("resnet50_lstm", 32, "torch"),
                                                 ("cnn_lstm", 32, "onnx"), ("resnet50_lstm", 32, "onnx")])
def test_sliding_windows_from_cached_features_equal_the_clip_path(arch, size, runtime, tmp_path):
    torch.manual_seed(0)
    kwargs = {"num_classes": 5, "clip_len": 4, "size": size}
    model = build(arch, **kwargs).eval()
    frames = torch.randn(20, 3, size, size)  # a source's preprocessed frames
    backend = model if runtime == "torch" else _onnx_backend(model, arch, kwargs, tmp_path)
    cache, step, windows = FrameFeatureCache(backend), 3, 0
    for end in range(9, 20, step):  # windows of 4 frames every 3rd, sliding one pick at a time
        picks = torch.arange(end - 9, end + 1, step)  # (4,)
        clip = frames[picks]  # (4, 3, S, S)
        with torch.inference_mode():
            expected = model(clip[None])  # (1, C): the clip path
        got = cache.logits(picks.numpy(), clip)  # (1, C)
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-4, rtol=0)
        windows += 1
    # the first window computes 4 frames; each later one its new frame (+ its first frame without a previous one
    # when the motion channel makes features depend on the previous pick)
    assert cache.computed == 4 + (windows - 1) * (1 + model.frame_context)


def test_3d_cnns_keep_the_clip_path():
    model = build("r3d_18", num_classes=3, clip_len=4, size=32)
    assert not is_frame_wise(model)
    with pytest.raises(ValueError, match="no per-frame features"):
        FrameFeatureCache(model)


def test_a_second_source_never_reuses_the_first_ones_features(tmp_path, make_video):
    from twostream.fusion.live import LiveConfig, LiveEngine
    from twostream.fusion.live.capture import FrameSource
    from twostream.fusion.run import RunPredictor

    torch.manual_seed(0)
    model = build("cnn_lstm", num_classes=5, clip_len=4, size=16).eval()
    videos = [make_video(tmp_path / f"{seed}.avi", num_frames=12, seed=seed) for seed in (1, 2)]

    def last(predictor: RunPredictor, video) -> np.ndarray:
        results = []
        engine = LiveEngine(predictor, LiveConfig(stride=3, smooth=1, deterministic=True, frame_step=2),
                            on_prediction=results.append)
        with FrameSource(video, realtime=False) as source:
            engine.run(source)
        return results[-1].fused

    shared = RunPredictor({"rgb": model}, list("abcde"))
    first, second = last(shared, videos[0]), last(shared, videos[1])  # the same frame indices, other pictures
    np.testing.assert_allclose(second, last(RunPredictor({"rgb": model}, list("abcde")), videos[1]), atol=1e-6)
    assert not np.allclose(first, second)
