from __future__ import annotations

import numpy as np
import pytest

from twostream.pose.draw import draw_skeleton
from twostream.pose.skeleton import COCO_17, MEDIAPIPE_33


def _person(layout, visibility=1.0):
    kp = np.zeros((layout.num_joints, 4), np.float32)
    kp[:, 0] = np.linspace(0.2, 0.8, layout.num_joints)
    kp[:, 1] = np.linspace(0.1, 0.9, layout.num_joints)
    kp[:, 3] = visibility
    return kp


def _pixel(frame, kp, joint):
    h, w = frame.shape[:2]
    return frame[int(round(kp[joint, 1] * h)), int(round(kp[joint, 0] * w))]


@pytest.mark.parametrize("layout", [MEDIAPIPE_33, COCO_17], ids=lambda l: l.name)
def test_visible_joints_are_drawn_and_hidden_ones_are_not(layout):
    frame = np.zeros((120, 160, 3), np.uint8)
    kp = _person(layout)
    hidden = layout.index("left_wrist")
    kp[hidden] = (0.95, 0.05, 0.0, 0.2)  # a corner no bone crosses, below the threshold
    out = draw_skeleton(frame, kp, layout.name, threshold=0.5)
    assert not frame.any()  # a copy by default
    assert _pixel(out, kp, layout.index("right_wrist")).any()
    assert not _pixel(out, kp, hidden).any()
    assert draw_skeleton(frame, kp, layout, inplace=True) is frame and frame.any()


def test_no_person_draws_nothing_and_bad_shapes_are_refused():
    frame = np.zeros((48, 64, 3), np.uint8)
    assert not draw_skeleton(frame, np.zeros((33, 4), np.float32), MEDIAPIPE_33).any()
    with pytest.raises(ValueError, match=r"\(17, 4\).*coco17"):
        draw_skeleton(frame, np.zeros((33, 4)), COCO_17)


def test_channel_order_keeps_the_colours_meaning():
    frame = np.zeros((120, 160, 3), np.uint8)
    kp = _person(COCO_17)
    joint = COCO_17.index("left_knee")
    bgr = _pixel(draw_skeleton(frame, kp, COCO_17), kp, joint)
    rgb = _pixel(draw_skeleton(frame, kp, COCO_17, channel_order="rgb"), kp, joint)
    np.testing.assert_array_equal(rgb, bgr[::-1])
