"""Skeleton augmentation: the flip swaps joints, geometry keeps missing joints at zero, shapes and seeding."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.pose.skeleton import get_layout, parents
from twostream.datasets.skeleton_aug import (
    BoneScale, Compose, DetectorNoise, HorizontalFlip, JointDropout, RandomAffine, SpeedChange, TemporalCrop,
    ViewChange, default_augment,
)


def skeleton(t: int = 10, v: int = 33, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0.2, 0.8, size=(t, v, 4)).astype(np.float32)
    return kp


@pytest.mark.parametrize("layout_name", ["mediapipe33", "coco17"])
def test_flip_swaps_left_and_right_and_mirrors_x(layout_name):
    layout = get_layout(layout_name)
    kp = skeleton(v=layout.num_joints)
    out = HorizontalFlip(layout.flip, p=1.0)(kp, np.random.default_rng(0))
    left, right = layout.index("left_wrist"), layout.index("right_wrist")
    # the new left wrist is the old right wrist, mirrored
    np.testing.assert_allclose(out[:, left, 0], 1.0 - kp[:, right, 0], atol=1e-6)
    np.testing.assert_allclose(out[:, left, 1:], kp[:, right, 1:])
    np.testing.assert_allclose(out[:, right, 0], 1.0 - kp[:, left, 0], atol=1e-6)
    nose = layout.index("nose")
    np.testing.assert_allclose(out[:, nose, 0], 1.0 - kp[:, nose, 0], atol=1e-6)
    # flipping twice is the identity
    np.testing.assert_allclose(HorizontalFlip(layout.flip, p=1.0)(out, np.random.default_rng(0)), kp, atol=1e-6)


def test_flip_with_p_zero_is_identity_and_keeps_missing_frames_zero():
    flip = get_layout("coco17").flip
    kp = skeleton(v=17)
    kp[3] = 0.0
    np.testing.assert_array_equal(HorizontalFlip(flip, p=0.0)(kp, np.random.default_rng(0)), kp)
    assert (HorizontalFlip(flip, p=1.0)(kp, np.random.default_rng(0))[3] == 0).all()


TRANSFORMS = [RandomAffine(degrees=20), TemporalCrop(0.5), SpeedChange((0.5, 2.0)), JointDropout(0.2),
              ViewChange(), DetectorNoise(missed_frames=0.2),
              BoneScale(parents(get_layout("coco17")), get_layout("coco17").flip),
              default_augment(get_layout("coco17").flip, parents(get_layout("coco17")))]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: type(t).__name__)
def test_transforms_keep_shape_key_and_no_person_frames(transform):
    kp = skeleton(t=12, v=17)
    kp[5] = 0.0
    out = transform(kp, np.random.default_rng(1))
    assert out.shape == kp.shape and np.isfinite(out).all()
    assert transform.keys == ("keypoints",)
    blank = transform(np.zeros((12, 17, 4), np.float32), np.random.default_rng(1))
    assert (blank == 0).all(), "a window with nobody in it must stay empty"
    # seeded: same generator state → same result; never the global RNG
    again = transform(kp, np.random.default_rng(1))
    np.testing.assert_array_equal(out, again)


def test_affine_changes_geometry_but_not_visibility():
    kp = skeleton(v=17)
    out = RandomAffine(degrees=15, scale=(0.8, 1.2), shift=0.1)(kp, np.random.default_rng(3))
    assert not np.allclose(out[..., :2], kp[..., :2])
    np.testing.assert_array_equal(out[..., 2:], kp[..., 2:])


def test_speed_change_faster_reaches_later_frames():
    kp = np.zeros((10, 1, 4), np.float32)
    kp[:, 0, 0] = np.arange(10) / 10 + 0.05  # x encodes the frame number
    out = SpeedChange((2.0, 2.0))(kp, np.random.default_rng(0))
    np.testing.assert_allclose(out[:5, 0, 0], kp[[0, 2, 4, 6, 8], 0, 0])
    assert (out[5:, 0, 0] == kp[9, 0, 0]).all()  # the end is held


def test_compose_applies_in_order():
    flip = HorizontalFlip(get_layout("coco17").flip, p=1.0)
    kp = skeleton(v=17)
    np.testing.assert_allclose(Compose((flip, flip))(kp, np.random.default_rng(0)), kp, atol=1e-6)


def test_view_change_narrows_x_only_and_detector_noise_is_sized_by_the_person():
    kp = skeleton(t=30, v=17)
    kp[..., 1] = np.linspace(0.2, 0.8, 17)  # a person 0.6 frame heights tall
    turned = ViewChange(yaw_degrees=80, shear=0.0)(kp, np.random.default_rng(3))
    np.testing.assert_allclose(turned[..., 1], kp[..., 1], atol=1e-6)
    assert turned[..., 0].std() <= kp[..., 0].std() + 1e-6
    noisy = DetectorNoise(sigma=0.01, missed_frames=0.0)(kp, np.random.default_rng(0))
    spread = (noisy[..., :2] - kp[..., :2]).std()
    assert 0.004 < spread < 0.008  # 0.01 x 0.6
    people = np.stack([kp, np.zeros_like(kp)], axis=1)  # (T, M, V, 4): slot 1 empty
    coco = get_layout("coco17")
    out = default_augment(coco.flip, parents(coco))(people, np.random.default_rng(2))
    assert out.shape == people.shape and (out[:, 1] == 0).all(), "an absent person slot stays absent"


@pytest.mark.parametrize("layout_name", ["mediapipe33", "coco17"])
def test_bone_scale_gives_each_bone_one_symmetric_factor_and_leaves_lost_joints_alone(layout_name):
    layout = get_layout(layout_name)
    parent = np.array(parents(layout))
    kp = skeleton(t=6, v=layout.num_joints, seed=4)
    kp[2] = 0.0  # nobody in frame 2
    elbow, wrist = layout.index("left_elbow"), layout.index("left_wrist")
    kp[3, elbow] = 0.0  # the left elbow lost in frame 3
    out = BoneScale(parents(layout), layout.flip, factors=(0.5, 2.0))(kp, np.random.default_rng(5))

    def lengths(a):
        return np.linalg.norm(a[..., :2] - a[:, parent, :2], axis=-1)  # (T, V); 0 at the root

    ratio = lengths(out) / np.where(lengths(kp) > 0, lengths(kp), np.nan)
    rows = [0, 1, 4, 5]  # frames with every joint found
    bones = parent != np.arange(layout.num_joints)
    np.testing.assert_allclose(ratio[rows][:, bones], np.broadcast_to(ratio[0, bones], (4, bones.sum())), rtol=1e-4)
    assert ((ratio[0, bones] >= 0.5 - 1e-4) & (ratio[0, bones] <= 2.0 + 1e-4)).all()
    assert np.ptp(ratio[0, bones]) > 0.2, "bones should get different factors"
    paired = bones & bones[list(layout.flip)]  # the hip-to-hip bone's mirror is the root
    np.testing.assert_allclose(ratio[0, paired], ratio[0, np.array(layout.flip)[paired]], rtol=1e-4)  # arms alike
    root = layout.centre[0]
    np.testing.assert_array_equal(out[:, root], kp[:, root])
    np.testing.assert_array_equal(out[..., 2:], kp[..., 2:])
    assert (out[2] == 0).all() and (out[3, elbow] == 0).all(), "lost joints stay lost"
    # the forearm hangs from a lost elbow in frame 3: its wrist moves with the shoulder, bone length unknown
    shoulder = parent[elbow]
    np.testing.assert_allclose(out[3, wrist, :2] - kp[3, wrist, :2], out[3, shoulder, :2] - kp[3, shoulder, :2],
                               atol=1e-6)
    same = BoneScale(parents(layout), layout.flip, factors=(1.0, 1.0))(kp, np.random.default_rng(5))
    np.testing.assert_allclose(same, kp, atol=1e-6)
