"""The one keypoint mirror (shared by clips, skeleton augmentation and pose.skeleton) and the colour jitter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twostream.datasets.transforms import colour_jitter, mirror_keypoints
from twostream.pose.skeleton import COCO_17, flip_keypoints
from twostream.datasets.skeleton_aug import HorizontalFlip


def _keypoints(layout, frames: int = 3) -> np.ndarray:
    kp = np.random.default_rng(0).uniform(0.1, 0.9, (frames, layout.num_joints, 4)).astype(np.float32)
    kp[1] = 0.0  # a frame with no person
    return kp


def test_mirror_swaps_the_wrists_and_mirrors_x():
    kp = _keypoints(COCO_17)
    out = mirror_keypoints(kp, COCO_17.flip)
    lw, rw = COCO_17.index("left_wrist"), COCO_17.index("right_wrist")
    assert out[0, lw, 0] == pytest.approx(1.0 - kp[0, rw, 0])  # the new left wrist is the old right one
    np.testing.assert_array_equal(out[0, lw, 1:], kp[0, rw, 1:])
    assert (out[1] == 0).all()  # absent stays absent, not x = 1
    np.testing.assert_allclose(mirror_keypoints(out, COCO_17.flip), kp, atol=1e-6)
    with pytest.raises(ValueError, match="flip permutation has 3 joints"):
        mirror_keypoints(kp, (0, 1, 2))


def test_every_flip_in_the_package_is_the_same_function():
    kp = _keypoints(COCO_17)
    expected = mirror_keypoints(kp, COCO_17.flip)
    np.testing.assert_array_equal(flip_keypoints(kp, COCO_17), expected)
    np.testing.assert_array_equal(HorizontalFlip(COCO_17.flip, p=1.0)(kp, np.random.default_rng(0)), expected)


def test_colour_jitter_keeps_hue_and_is_seeded():
    red = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    red[:, 0], red[:, 1:] = 200, 30
    assert torch.equal(colour_jitter(red, 0.0, torch.Generator().manual_seed(0)), red)
    outs = [colour_jitter(red, 0.4, torch.Generator().manual_seed(s)) for s in range(8)]
    for out in outs:  # brightness / contrast / saturation move the values, the flag stays red
        assert out.shape == red.shape and out.dtype == torch.uint8
        assert (out[:, 0].float() > out[:, 1:].float().amax(1)).all()
    assert len({tuple(o[0, :, 0, 0].tolist()) for o in outs}) > 1
    assert torch.equal(outs[3], colour_jitter(red, 0.4, torch.Generator().manual_seed(3)))
