"""The temporal detection metric on cases worked out on paper (ActivityNet's protocol)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twostream.fusion.timeline.detection import (TIOU_THRESHOLDS, Detection, evaluate_detections, evaluate_files,
                                                 interpolated_ap, segment_iou)

GT = [Detection("v1", "jump", 0.0, 10.0), Detection("v1", "clap", 20.0, 30.0), Detection("v2", "jump", 5.0, 15.0)]


def det(video, label, start, end, score):
    return Detection(video, label, start, end, score)


def test_thresholds_are_activitynets():
    assert TIOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_segment_iou():
    # [0, 10] vs [2, 12]: overlap 8, union 12; vs [10, 20]: touching, 0; vs [0, 5]: 5 / 10
    iou = segment_iou((0.0, 10.0), np.array([[2.0, 12.0], [10.0, 20.0], [0.0, 5.0]]))
    np.testing.assert_allclose(iou, [8 / 12, 0.0, 0.5])


def test_perfect_predictions_give_ap_one_everywhere():
    m = evaluate_detections(GT, [det(g.video, g.label, g.start, g.end, 0.9) for g in GT])
    assert m.classes == ("clap", "jump")
    np.testing.assert_allclose(m.ap, 1.0)
    assert m.average_map == pytest.approx(1.0) and m.map_at(0.5) == pytest.approx(1.0)


def test_shifted_prediction_counts_only_up_to_its_tiou():
    # tIoU 8/12 = 0.667: a hit at 0.5, 0.55, 0.6, 0.65; a miss from 0.7 on → average 4/10
    m = evaluate_detections([GT[0]], [det("v1", "jump", 2.0, 12.0, 0.8)])
    np.testing.assert_allclose(m.ap[0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert m.average_map == pytest.approx(0.4)


def test_duplicate_is_a_false_positive():
    # ranked: TP (P 1, R .5), duplicate FP (P .5, R .5), TP (P 2/3, R 1) → AP = .5 * 1 + .5 * 2/3
    preds = [det("v1", "jump", 0, 10, 0.9), det("v1", "jump", 0.5, 10, 0.8), det("v2", "jump", 5, 15, 0.5)]
    m = evaluate_detections([GT[0], GT[2]], preds)
    np.testing.assert_allclose(m.ap[0], 0.5 + 0.5 * 2 / 3)
    # the duplicate ranked last costs nothing: P is 1 at both recall steps
    preds[1] = det("v1", "jump", 0.5, 10, 0.1)
    np.testing.assert_allclose(evaluate_detections([GT[0], GT[2]], preds).ap[0], 1.0)


def test_wrong_class_scores_zero_and_foreign_labels_are_counted():
    m = evaluate_detections([GT[0]], [det("v1", "clap", 0, 10, 0.9), det("v1", "kick", 0, 10, 0.9)])
    np.testing.assert_allclose(m.ap, 0.0)
    assert m.classes == ("jump",) and m.ignored_labels == {"clap": 1, "kick": 1}


def test_detection_on_another_video_is_a_false_positive():
    # a 0.9 detection on v2 (no jump there in this GT), then a hit on v1 at 0.5: P = 1/2 at R = 1 → AP 0.5
    m = evaluate_detections([GT[0]], [det("v2", "jump", 0, 10, 0.9), det("v1", "jump", 0, 10, 0.5)],
                            videos=["v1", "v2"])
    np.testing.assert_allclose(m.ap[0], 0.5)
    # unless the video is not evaluated at all: then it is left out and counted
    m = evaluate_detections([GT[0]], [det("v9", "jump", 0, 10, 0.9), det("v1", "jump", 0, 10, 0.5)])
    np.testing.assert_allclose(m.ap[0], 1.0)
    assert m.ignored_videos == 1


def test_each_ground_truth_matches_once_with_the_best_tiou():
    # two GTs overlap one detection: it takes the one with the higher tIoU, the next detection gets the other
    gt = [Detection("v", "a", 0, 10), Detection("v", "a", 4, 14)]
    preds = [det("v", "a", 4, 13, 0.9), det("v", "a", 0, 9, 0.8)]
    np.testing.assert_allclose(evaluate_detections(gt, preds).ap[0, :6], 1.0)


def test_interpolated_ap_takes_the_best_precision_to_the_right():
    # P = [1, .5, .667], R = [.5, .5, 1]: envelope 1 on (0, .5], .667 on (.5, 1] → .8333
    assert interpolated_ap(np.array([1, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(5 / 6)


def test_mean_over_classes(tmp_path):
    gt = {"database": {"v1": {"duration": 40, "subset": "test", "annotations": [
        {"segment": [0, 10], "label": "jump"}, {"segment": [20, 30], "label": "clap"}]},
        "v3": {"duration": 9, "subset": "train", "annotations": [{"segment": [0, 5], "label": "kick"}]}}}
    res = {"results": {"v1": [{"label": "jump", "score": 0.9, "segment": [0, 10]},
                              {"label": "clap", "score": 0.8, "segment": [2, 12]}]}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    m = evaluate_files(tmp_path / "gt.json", tmp_path / "res.json", subset="test")
    assert m.classes == ("clap", "jump")  # kick is in another subset
    assert m.map_at(0.5) == pytest.approx(0.5) and m.average_map == pytest.approx(0.5)
    with pytest.raises(ValueError, match="subset 'val'"):
        evaluate_files(tmp_path / "gt.json", tmp_path / "res.json", subset="val")


@pytest.mark.parametrize("results, match", [
    ({"v1": []}, "results"),
    ({"results": {"v1": [{"label": "a", "segment": [3, 1], "score": 1}]}}, "start < end"),
    ({"results": {"v1": [{"label": "a", "segment": [0, 1]}]}}, "numeric 'score'"),
])
def test_bad_results_name_the_problem(tmp_path, results, match):
    (tmp_path / "gt.json").write_text(json.dumps({"database": {"v1": {"annotations": [
        {"segment": [0, 1], "label": "a"}]}}}))
    (tmp_path / "res.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=match):
        evaluate_files(tmp_path / "gt.json", tmp_path / "res.json")
