"""Keypoint streams: forward/backward for both layouts, invariance of the in-model normalisation, no-person input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twostream.pose.skeleton import get_layout
from twostream.streams.keypoint import normalised_adjacency
from twostream.streams.keypoint_features import FEATURES, SkeletonFeatures
from twostream.streams.keypoint_stgcnpp import STREAMS, MultiScaleTCN, spatial_partition
from twostream.streams.registry import available, build

MODELS = ("pose_gru", "pose_stgcn", "pose_stgcnpp", "pose_transformer")
LAYOUTS = ("mediapipe33", "coco17")
SMALL = {"pose_gru": {"hidden": 16}, "pose_stgcn": {"channels": (8, 16)}, "pose_stgcnpp": {"channels": (12, 12, 24)},
         "pose_transformer": {"dim": 16, "heads": 2, "depth": 1}}


def random_skeletons(batch: int, t: int, v: int, seed: int = 0) -> torch.Tensor:
    """Plausible raw keypoints: every joint found, x/y inside the frame, visibility in (0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, t, v, 4, generator=g)
    x[..., :2] = 0.3 + 0.4 * x[..., :2]
    x[..., 2] = x[..., 2] - 0.5
    x[..., 3] = 0.1 + 0.9 * x[..., 3]
    return x


def test_keypoint_models_are_registered():
    assert set(MODELS) <= set(available())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_tiny(name, layout):
    torch.manual_seed(0)
    v = get_layout(layout).num_joints
    model = build(name, num_classes=3, clip_len=6, layout=layout, **SMALL[name])
    assert model.input_keys == ("keypoints",)
    assert model.input_spec.layout == layout and model.input_spec.clip_len == 6
    x = random_skeletons(2, 6, v)
    features = model.forward_features(x)
    assert features.shape == (2, model.num_features)
    logits = model(x)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    logits.square().sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.parametrize("name", MODELS)
def test_no_person_frames_give_finite_output(name):
    model = build(name, num_classes=4, clip_len=5, layout="coco17", **SMALL[name]).eval()
    blank = torch.zeros(2, 5, 17, 4)
    partly = random_skeletons(2, 5, 17)
    partly[:, 1:3] = 0.0  # nobody in frames 1 and 2
    with torch.no_grad():
        for x in (blank, partly):
            out = model(x)
            assert out.shape == (2, 4) and torch.isfinite(out).all()
    feats, persons = SkeletonFeatures(get_layout("coco17"))(partly)  # (B, M, T, V, C), (B, M)
    assert (feats[:, :, 1:3] == 0).all(), "features of no-person frames must be zero"
    assert (feats[:, 0, 0, :, 11] == 1).all(), "the mask channel marks found joints"
    assert (persons == 1).all()


@pytest.mark.parametrize("name", MODELS)
def test_absent_person_slots_change_nothing_and_4d_is_one_person(name):
    model = build(name, num_classes=4, clip_len=5, layout="coco17", **SMALL[name]).eval()
    one = random_skeletons(3, 5, 17, seed=4)  # (B, T, V, 4)
    two = torch.stack([one, torch.zeros_like(one)], dim=2)  # (B, T, 2, V, 4): slot 1 empty
    with torch.no_grad():
        torch.testing.assert_close(model(two), model(one))
        torch.testing.assert_close(model(two), model(two.flip(2)))  # which slot holds the person: no matter
        other = random_skeletons(3, 5, 17, seed=5)
        both = model(torch.stack([one, other], dim=2))
    assert not torch.allclose(both, model(one)), "a second person present must count"
    assert model.input_spec.persons == SMALL[name].get("persons", 2)


@pytest.mark.parametrize("name", MODELS)
def test_features_are_invariant_to_translation_and_scale(name):
    torch.manual_seed(0)
    model = build(name, num_classes=3, clip_len=8, layout="mediapipe33", **SMALL[name]).eval()
    x = random_skeletons(2, 8, 33, seed=1)
    moved = x.clone()
    moved[..., :3] = x[..., :3] * 0.5  # the person twice as far away …
    moved[..., :2] += torch.tensor([0.2, -0.1])  # … and elsewhere in the frame
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(moved), model.forward_features(x), atol=1e-4, rtol=1e-4)
        # not trivially constant: a different pose gives different features
        assert not torch.allclose(model.forward_features(random_skeletons(2, 8, 33, seed=2)),
                                  model.forward_features(x), atol=1e-3)


def test_position_features_are_hip_centred_and_torso_scaled():
    layout = get_layout("mediapipe33")
    x = random_skeletons(1, 7, 33, seed=3)
    x[0, 4] = 0.0  # a no-person frame
    feats, _ = SkeletonFeatures(layout)(x)
    kp = x[0].numpy()  # (T, V, 4), every joint found but in frame 4: positions by hand
    person = np.any(kp != 0, axis=(1, 2))  # (T,)
    hips = kp[:, list(layout.centre), :2].mean(1, keepdims=True)  # (T, 1, 2)
    torso = np.linalg.norm(kp[:, list(layout.torso[0]), :2].mean(1) - kp[:, list(layout.torso[1]), :2].mean(1), axis=-1)
    reference = (kp[..., :2] - hips) / torso[person].mean() * person[:, None, None]  # (T, V, 2)
    np.testing.assert_allclose(feats[0, 0, ..., :2].numpy(), reference, atol=1e-5)
    assert feats.shape == (1, 1, 7, 33, FEATURES)


def test_a_lost_shoulder_does_not_rescale_the_person():
    """A lost joint is (0, 0). Averaged into the mid-shoulder it made the torso length of that frame garbage, the
    person's scale with it, and the torso-length channel noise: the default augmentation drops 5 % of joints."""
    layout = get_layout("coco17")
    x = random_skeletons(1, 6, 17, seed=4)
    x[..., list(layout.torso[0]), :2] = torch.tensor([[0.45, 0.3], [0.55, 0.3]])  # the same torso in every frame
    x[..., list(layout.torso[1]), :2] = torch.tensor([[0.46, 0.5], [0.54, 0.5]])
    lost = x.clone()
    lost[0, 2, layout.torso[0][0]] = 0.0  # one shoulder lost in frame 2
    lost[0, 4, list(layout.torso[0])] = 0.0  # both in frame 4: no torso to measure there
    clean, _ = SkeletonFeatures(layout)(x)
    seen, _ = SkeletonFeatures(layout)(lost)
    others = [0, 1, 3, 5]
    # frame 2's one shoulder makes its torso 3 % longer (the mid-shoulder moves to the other shoulder): the scale
    # moves by 0.6 %; averaging (0, 0) in moved it by a fifth
    torch.testing.assert_close(seen[0, 0, others, :, :2], clean[0, 0, others, :, :2], rtol=0.01, atol=1e-4)
    assert seen[0, 0, [0, 1, 3, 4, 5], :, 13].abs().max() < 0.01  # torso-length change: none, nor in frame 4
    nothing = torch.zeros(1, 6, 17, 4)
    nothing[..., 0, :] = torch.tensor([0.5, 0.5, 0.0, 1.0])  # only a nose: no torso in any frame
    assert SkeletonFeatures(layout)(nothing)[0].abs().max() <= 1.0  # the frame's height as scale, not 1 / 1e-6


def test_adjacency_is_symmetric_and_normalised():
    a = normalised_adjacency(get_layout("coco17"))
    torch.testing.assert_close(a, a.T)
    assert a.shape == (17, 17) and (a.diagonal() > 0).all()
    assert torch.linalg.eigvalsh(a).max() <= 1.0 + 1e-5  # spectrum of D^-1/2 (A+I) D^-1/2 lies in (-1, 1]


def test_spatial_partition_is_identity_inward_outward():
    layout = get_layout("coco17")
    a = spatial_partition(layout)
    assert a.shape == (3, 17, 17)
    torch.testing.assert_close(a[0], torch.eye(17))
    assert (a[1] > 0).sum() == (a[2] > 0).sum() >= len(layout.edges)  # every bone in one direction at least
    for k in (1, 2):  # PYSKL's normalize_digraph: every linked column sums to 1
        sums = a[k].sum(0)
        assert torch.allclose(sums[sums > 0], torch.ones(int((sums > 0).sum())))
    left_knee, left_ankle = 13, 15  # COCO-17: the ankle is farther from the hips, so ankle -> knee is inward
    assert a[1][left_knee, left_ankle] > 0 and a[1][left_ankle, left_knee] == 0


@pytest.mark.parametrize("stream", ["joint", "bone", "joint_motion", "bone_motion"])
def test_stgcnpp_streams_read_their_own_channels(stream):
    model = build("pose_stgcnpp", num_classes=2, clip_len=6, layout="coco17", channels=(12, 12), stream=stream).eval()
    assert model.data_bn.num_features == 17 * len(STREAMS[stream])
    x = random_skeletons(2, 6, 17)
    still = x[:, :1].expand(2, 6, 17, 4).clone()  # (B, T, V, 4): two different poses, each held for 6 frames
    with torch.no_grad():
        a, b = model(still)
    assert torch.allclose(a, b, atol=1e-5) == stream.endswith("motion")  # motion streams see no pose, only motion
    with pytest.raises(ValueError, match="stream must be one of"):
        build("pose_stgcnpp", num_classes=2, layout="coco17", stream="speed")


def test_multi_scale_tcn_keeps_width_and_strides_time():
    tcn = MultiScaleTCN(20, stride=2)
    assert [m for m in tcn.branches[0] if isinstance(m, torch.nn.Conv2d)][0].out_channels == 5  # 20 - 5 * 3
    assert tcn(torch.rand(2, 20, 9, 17)).shape == (2, 20, 5, 17)


def test_wrong_joint_count_is_a_clear_error():
    model = build("pose_gru", num_classes=2, layout="coco17", hidden=8)
    with pytest.raises(ValueError, match=r"\(B, T, M, 17, 4\)"):
        model(torch.zeros(1, 4, 33, 4))


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_matches_torch_including_no_person_frames(name):
    import io
    import warnings

    ort = pytest.importorskip("onnxruntime")
    model = build(name, num_classes=3, clip_len=8, layout="coco17", **SMALL[name]).eval()
    x = random_skeletons(2, 8, 17)
    x[0, 2:4] = 0.0
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buffer, input_names=["keypoints"], output_names=["logits"],
                          dynamic_axes={"keypoints": {0: "batch"}}, dynamo=False)
    session = ort.InferenceSession(buffer.getvalue())
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(session.run(None, {"keypoints": x.numpy()})[0], expected, atol=1e-4)
    blank = np.zeros((1, 8, 17, 4), np.float32)
    assert np.isfinite(session.run(None, {"keypoints": blank})[0]).all()
