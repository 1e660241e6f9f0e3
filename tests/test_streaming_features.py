"""Frame-wise streams (cnn_lstm, resnet50_lstm) stream: each sampled frame goes through the backbone once and a
prediction runs the temporal head over cached features, with the clip path's scores (within 1e-4)."""

from __future__ import annotations

import pytest
import torch

from twostream.fusion.features import FrameFeatureCache, is_frame_wise
from twostream.streams.registry import build


@pytest.mark.parametrize("arch, size", [("cnn_lstm", 32), ("resnet50_lstm", 32)])
def test_sliding_windows_from_cached_features_equal_the_clip_path(arch, size):
    torch.manual_seed(0)
    model = build(arch, num_classes=5, clip_len=4, size=size).eval()
    frames = torch.randn(20, 3, size, size)  # a source's preprocessed frames
    cache, step, windows = FrameFeatureCache(model), 3, 0
    for end in range(9, 20, step):  # windows of 4 frames every 3rd, sliding one pick at a time
        picks = torch.arange(end - 9, end + 1, step)  # (4,)
        clip = frames[picks]  # (4, 3, S, S)
        with torch.inference_mode():
            expected = model(clip[None])  # (1, C): the clip path
        got = cache.logits(picks.numpy(), clip)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
        windows += 1
    # the first window computes 4 frames; each later one its new frame (+ its first frame without a previous one
    # when the motion channel makes features depend on the previous pick)
    assert cache.computed == 4 + (windows - 1) * (1 + model.frame_context)


def test_3d_cnns_keep_the_clip_path():
    model = build("r3d_18", num_classes=3, clip_len=4, size=32)
    assert not is_frame_wise(model)
    with pytest.raises(ValueError, match="no per-frame features"):
        FrameFeatureCache(model)
