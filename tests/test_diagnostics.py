"""Where each stream wins: per-class recall of a fused run, the streams' disagreements, the most confused pairs."""

from __future__ import annotations

import csv

import numpy as np

from twostream.fusion.diagnostics import FIELDS, per_class_recall, most_disagreeing, write_per_class
from twostream.streams.metrics import confused_pairs, summarise

CLASSES = ("flag_red", "flag_blue", "wave_left", "jump")


def _fused_result():
    """Four classes × 4 videos: pixels get the flags, keypoints the sides, fusion both; nobody gets all jumps."""
    labels = np.repeat(np.arange(4), 4)
    eye = np.eye(4)

    def probs(predicted):  # one-hot scores of the predicted classes
        return eye[np.asarray(predicted)]

    rgb = probs([0, 0, 0, 0, 1, 1, 1, 1, 3, 3, 2, 3, 3, 3, 2, 2])  # flags 1.0, wave_left 0.25, jump 0.5
    pose = probs([0, 1, 0, 1, 1, 0, 1, 0, 2, 2, 2, 2, 3, 3, 3, 2])  # flags 0.5, wave_left 1.0, jump 0.75
    fused = probs([0, 0, 0, 0, 1, 1, 1, 0, 2, 2, 2, 2, 3, 3, 3, 3])  # flags 1.0 / 0.75, wave_left 1.0, jump 1.0
    index = np.arange(16)
    results = {"rgb": summarise(rgb, labels, index, CLASSES), "pose": summarise(pose, labels, index, CLASSES),
               "fused:tuned": summarise(fused, labels, index, CLASSES)}
    return {"classes": list(CLASSES), "chosen": "tuned", "results": results}


def test_per_class_recall_sorted_by_what_fusion_adds_over_the_better_stream():
    rows = per_class_recall(_fused_result())
    assert [(r.name, r.rgb, r.pose, r.fused, r.gain) for r in rows] == [
        ("jump", 0.5, 0.75, 1.0, 0.25), ("flag_red", 1.0, 0.5, 1.0, 0.0), ("wave_left", 0.25, 1.0, 1.0, 0.0),
        ("flag_blue", 1.0, 0.5, 0.75, -0.25)]
    assert all(r.support == 4 for r in rows)
    assert [r.name for r in most_disagreeing(rows, k=2)] == ["wave_left", "flag_blue"]  # |0.75|, then |0.5| by name


def test_per_class_files(tmp_path):
    paths = write_per_class(per_class_recall(_fused_result()), tmp_path, title="t")
    rows = list(csv.reader(paths[0].open()))
    assert tuple(rows[0]) == FIELDS and rows[1] == ["jump", "4", "0.5000", "0.7500", "1.0000", "0.2500"]
    assert paths[1].read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per-class.csv", "per-class.png"]


def test_confused_pairs_most_clips_first_share_of_the_true_class():
    cm = np.array([[5, 3, 0],
                   [1, 4, 0],
                   [0, 3, 2]])
    pairs = confused_pairs(cm, ("a", "b", "c"), k=2)
    assert pairs == [{"true": "a", "predicted": "b", "count": 3, "share": 3 / 8},
                     {"true": "c", "predicted": "b", "count": 3, "share": 3 / 5}]  # equal counts: class order
    assert confused_pairs(np.diag([2, 3]), ("a", "b")) == []
    assert len(confused_pairs(cm, ("a", "b", "c"))) == 3  # only the non-empty cells
