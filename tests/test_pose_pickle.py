from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from twostream.errors import CacheError, TwostreamError
from twostream.pose.pickle_io import load_skeleton_pickle, safe_load


def _annotation(name: str, label: int, t: int = 5, people: int = 2) -> dict:
    rng = np.random.default_rng(label)
    keypoint = rng.uniform(0, 100, (people, t, 17, 2)).astype(np.float16)  # pixels in a 200 x 100 image
    score = np.full((people, t, 17), 0.2, np.float16)
    score[1, ::2] = 0.9  # person 1 is the confident one in even frames
    score[:, 3] = 0.0  # frame 3: padded, no one
    return {"frame_dir": name, "label": label, "img_shape": (100, 200), "original_shape": (100, 200),
            "total_frames": t, "keypoint": keypoint, "keypoint_score": score}


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_split_and_annotations_file_keeps_person_slots_most_confident_first(tmp_path, protocol):
    anns = [_annotation("v_a", 0), _annotation("v_b", 1)]
    path = tmp_path / "set.pkl"
    path.write_bytes(pickle.dumps({"split": {"train1": ["v_a"], "test1": ["v_b"]}, "annotations": anns},
                                  protocol=protocol))
    skeletons = load_skeleton_pickle(path)
    assert skeletons.layout == "coco17" and skeletons.splits == {"train1": ["v_a"], "test1": ["v_b"]}
    record = skeletons.annotations[1]
    assert (record.name, record.label, record.keypoints.shape) == ("v_b", 1, (5, 2, 17, 4))  # (T, M, V, 4)
    kp, source = record.keypoints, anns[1]["keypoint"].astype(np.float32)
    np.testing.assert_allclose(kp[0, 0, :, 0], source[1, 0, :, 0] / 200, rtol=1e-6)  # slot 0: person 1, x / width
    np.testing.assert_allclose(kp[1, 0, :, 1], source[1, 1, :, 1] / 100, rtol=1e-6)  # the same person every frame
    np.testing.assert_allclose(kp[1, 1, :, 1], source[0, 1, :, 1] / 100, rtol=1e-6)  # slot 1: person 0, y / height
    np.testing.assert_allclose(kp[0, 0, :, 3], 0.9, rtol=1e-3)
    np.testing.assert_allclose(kp[1, 0, :, 3], 0.2, rtol=1e-3)
    assert np.all(kp[..., 2] == 0) and np.all(kp[3] == 0)


def test_real_single_annotation_pickle(shared_data):
    skeletons = load_skeleton_pickle(shared_data / "skeletons/ucf101_v_ApplyEyeMakeup_g01_c01_coco17.pkl")
    assert skeletons.layout == "coco17" and len(skeletons.annotations) == 1 and skeletons.splits == {}
    record = skeletons.annotations[0]
    assert record.name == "v_ApplyEyeMakeup_g01_c01" and record.label == 0
    assert record.keypoints.shape[0] == 163 and record.keypoints.shape[2:] == (17, 4)
    assert record.keypoints.dtype == np.float32
    xy = record.keypoints[..., :2]
    assert 0.0 <= xy.min() and np.median(xy) < 1.0 and xy.max() < 1.5  # joints may sit a little out of frame


def test_real_kinetics_sample_is_boxes_not_skeletons(shared_data):
    # mmaction2's tests/data/annotations/sample.pkl holds person boxes (frame_inds, box_score), no keypoint
    # array: it must be refused with a message that says so, not read as empty skeletons.
    path = shared_data / "skeletons/kinetics_sample_coco17.pkl"
    assert len(safe_load(path)["annotations"]) == 100  # the restricted unpickler reads it (protocol 2, _codecs)
    with pytest.raises(CacheError, match="has no keypoint.*not a 2D skeleton annotation"):
        load_skeleton_pickle(path)


class _Shell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["true"],))


@pytest.mark.parametrize("payload", ["system", "popen", "eval", "codec"])
def test_malicious_pickles_are_refused_without_running(tmp_path, payload):
    marker = tmp_path / "pwned"
    objects = {
        "system": lambda: {"annotations": [_Shell(marker)]},
        "popen": lambda: [_Popen()],
        "eval": lambda: None,
    }
    path = tmp_path / "evil.pkl"
    if payload == "eval":  # hand-written: builtins.eval("...") via GLOBAL + REDUCE
        path.write_bytes(b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode() + b"')\ntR.")
    elif payload == "codec":  # _codecs.encode is allowed only for the latin-1 bytes of protocol 2
        path.write_bytes(b"c_codecs\nencode\n(Vx\nVzlib_codec\ntR.")
    else:
        path.write_bytes(pickle.dumps(objects[payload]()))
    with pytest.raises(TwostreamError, match="refused"):
        load_skeleton_pickle(path)
    assert not marker.exists()


def test_corrupt_pickle_names_the_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"annotations": [_annotation("v", 0)]})[:50])
    with pytest.raises(CacheError, match="cut.pkl"):
        load_skeleton_pickle(path)
