from __future__ import annotations

import numpy as np
import pytest

from twostream.pose.skeleton import (COCO_17, MEDIAPIPE_33, JointLayout, flip_keypoints, get_layout,
                                     mediapipe33_to_coco17)

LAYOUTS = [MEDIAPIPE_33, COCO_17]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: l.name)
def test_flip_swaps_left_and_right_and_is_an_involution(layout):
    flip = layout.flip
    assert [flip[i] for i in flip] == list(range(layout.num_joints))
    assert flip[layout.index("left_wrist")] == layout.index("right_wrist")
    assert flip[layout.index("right_ankle")] == layout.index("left_ankle")
    assert flip[layout.index("nose")] == layout.index("nose")


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: l.name)
def test_layout_topology(layout):
    assert get_layout(layout.name) is layout
    assert {layout.joints[i] for i in layout.centre} == {"left_hip", "right_hip"}
    assert {layout.joints[i] for i in layout.torso[0]} == {"left_shoulder", "right_shoulder"}
    # every joint belongs to at least one bone, so every joint gets drawn and joins the graph
    touched = {j for edge in layout.edges for j in edge}
    assert touched == set(range(layout.num_joints))


def test_unknown_layout_and_bad_flip_are_rejected():
    with pytest.raises(ValueError, match="available: coco17, mediapipe33"):
        get_layout("openpose18")
    with pytest.raises(ValueError, match="permutation"):
        JointLayout("bad", ("a", "b"), ((0, 1),), (0, 0), (0,), ((0,), (1,)))


def test_mediapipe33_to_coco17_keeps_the_same_named_joints():
    kp = np.arange(33 * 4, dtype=np.float32).reshape(33, 4)[None]  # (1, 33, 4)
    coco = mediapipe33_to_coco17(kp)
    assert coco.shape == (1, 17, 4)
    for i, name in enumerate(COCO_17.joints):
        assert np.array_equal(coco[0, i], kp[0, MEDIAPIPE_33.index(name)])
    with pytest.raises(ValueError, match="33"):
        mediapipe33_to_coco17(coco)


def _random_person(rng, t=6, layout=COCO_17):
    kp = np.zeros((t, layout.num_joints, 4), np.float32)
    kp[..., :2] = rng.uniform(0.3, 0.7, (t, layout.num_joints, 2))
    kp[..., 3] = 1.0
    return kp


def test_flip_keypoints_mirrors_x_and_swaps_sides():
    rng = np.random.default_rng(2)
    kp = _random_person(rng, t=3, layout=MEDIAPIPE_33)
    kp[1] = 0.0
    flipped = flip_keypoints(kp, MEDIAPIPE_33)
    lw, rw = MEDIAPIPE_33.index("left_wrist"), MEDIAPIPE_33.index("right_wrist")
    assert flipped[0, rw, 0] == pytest.approx(1.0 - kp[0, lw, 0])
    assert np.all(flipped[1] == 0)
    np.testing.assert_allclose(flip_keypoints(flipped, MEDIAPIPE_33), kp, atol=1e-6)
