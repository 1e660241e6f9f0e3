"""Late fusion modes: fixed, tuned, stacked, gated — their maths, validation-only fitting and JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twostream.fusion.late import MODES, WEIGHT_GRID, build_mode, mode_from_dict


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def scores(n: int = 60, c: int = 4, seed: int = 0, rgb_noise: float = 2.0, pose_noise: float = 0.7):
    """Labels plus two noisy probability streams: pose is the more reliable one here."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    onehot = np.eye(c)[labels] * 2.0
    probs = {"rgb": softmax(onehot + rng.normal(0, rgb_noise, (n, c))),
             "pose": softmax(onehot + rng.normal(0, pose_noise, (n, c)))}
    aux = {"detected_fraction": rng.uniform(0.5, 1.0, n)}
    return probs, labels, aux


def test_fixed_default_is_the_plain_average():
    probs, _, _ = scores()
    fused = build_mode("fixed").fuse(probs)
    np.testing.assert_allclose(fused, (probs["rgb"] + probs["pose"]) / 2)
    np.testing.assert_allclose(build_mode("fixed", weight=0.0).fuse(probs), probs["rgb"])
    np.testing.assert_allclose(build_mode("fixed", weight=1.0).fuse(probs), probs["pose"])


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_weight_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        build_mode("fixed", weight=bad)


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="fixed, tuned, stacked, gated"):
        build_mode("voting")


def test_tuned_picks_the_better_stream_on_validation():
    probs, labels, aux = scores()
    mode = build_mode("tuned")
    mode.fit(probs, labels, aux)
    assert mode.weight in WEIGHT_GRID and mode.weight > 0.5  # pose is the reliable stream
    # swap the streams' reliability and the weight follows
    swapped = {"rgb": probs["pose"], "pose": probs["rgb"]}
    mode.fit(swapped, labels, aux)
    assert mode.weight < 0.5


def test_gated_equals_rgb_when_no_person_is_found():
    probs, labels, aux = scores()
    mode = build_mode("gated", weight=0.8)
    blank_pose = {"rgb": probs["rgb"], "pose": np.full_like(probs["pose"], 1 / probs["pose"].shape[1])}
    np.testing.assert_array_equal(mode.fuse(blank_pose, {"detected_fraction": np.zeros(len(labels))}), probs["rgb"])
    # with a person in every frame it is the fixed mix with the same weight
    full = {"detected_fraction": np.ones(len(labels))}
    np.testing.assert_allclose(mode.fuse(probs, full), build_mode("fixed", weight=0.8).fuse(probs))
    # half the frames: half the pose weight
    half = {"detected_fraction": np.full(len(labels), 0.5)}
    np.testing.assert_allclose(mode.fuse(probs, half), build_mode("fixed", weight=0.4).fuse(probs))
    with pytest.raises(ValueError, match="detected_fraction"):
        mode.fuse(probs, None)


def test_stacked_matches_scikit_learn_and_beats_chance():
    from sklearn.linear_model import LogisticRegression

    probs, labels, aux = scores(n=120)
    mode = build_mode("stacked")
    mode.fit(probs, labels, aux)
    fused = mode.fuse(probs, aux)
    x = np.concatenate([probs["rgb"], probs["pose"]], 1)
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(x, labels).predict_proba(x)
    np.testing.assert_allclose(fused, reference, atol=1e-6)
    assert (fused.argmax(1) == labels).mean() > 0.5


def test_stacked_handles_classes_missing_from_validation():
    probs, labels, aux = scores(c=4)
    keep = labels < 2  # validation only shows classes 0 and 1 (scikit-learn's binary case)
    mode = build_mode("stacked")
    mode.fit({k: v[keep] for k, v in probs.items()}, labels[keep], None)
    fused = mode.fuse(probs)
    assert fused.shape == (len(labels), 4)
    np.testing.assert_allclose(fused.sum(1), 1.0)
    assert (fused[:, 2:] == 0).all()


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_round_trips_through_json(name):
    val_probs, val_labels, val_aux = scores(seed=1)
    test_probs, _, test_aux = scores(seed=2)
    mode = build_mode(name)
    mode.fit(val_probs, val_labels, val_aux)
    restored = mode_from_dict(name, json.loads(json.dumps(mode.to_dict())))
    np.testing.assert_allclose(restored.fuse(test_probs, test_aux), mode.fuse(test_probs, test_aux))
    fused = restored.fuse(test_probs, test_aux)
    np.testing.assert_allclose(fused.sum(1), 1.0, atol=1e-9)


def test_streams_must_have_the_same_shape():
    with pytest.raises(ValueError, match="rgb and pose"):
        build_mode("fixed").fuse({"rgb": np.ones((2, 3)) / 3, "pose": np.ones((2, 4)) / 4})
