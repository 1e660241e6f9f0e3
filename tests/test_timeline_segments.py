"""Score curves → segments, on synthetic curves whose segments are known."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.fusion.timeline.segments import BACKGROUND, SegmentConfig, extract_segments, frame_labels

CLASSES = ("clap", "jump")
HOP = 0.5


def curves(spec: str) -> tuple[np.ndarray, np.ndarray]:
    """One sample per character: 'c' clap confident, 'j' jump confident, '.' nobody confident."""
    rows = {"c": (0.9, 0.1), "j": (0.15, 0.85), ".": (0.45, 0.4)}
    probs = np.array([rows[ch] for ch in spec]).reshape(len(spec), 2)
    return (np.arange(len(spec)) + 0.5) * HOP, probs


def run(spec: str, **kwargs):
    times, probs = curves(spec)
    cfg = SegmentConfig(**{"smooth": 1, "max_gap": 0.0, "min_duration": 0.0, **kwargs})
    return extract_segments(times, probs, CLASSES, hop=HOP, duration=len(spec) * HOP, video="v", config=cfg)


def test_background_decision():
    _, probs = curves("c.j")
    assert frame_labels(probs, 0.5).tolist() == [0, BACKGROUND, 1]


def test_stretches_become_segments_with_mean_scores():
    segs = run("..cccc....jj..")
    assert [(s.label, s.start, s.end) for s in sorted(segs, key=lambda s: s.start)] == [
        ("clap", 1.0, 3.0), ("jump", 5.0, 6.0)]
    assert segs[0].label == "clap" and segs[0].score == pytest.approx(0.9)  # highest score first
    assert segs[1].score == pytest.approx(0.85)


def test_short_gaps_merge_long_gaps_split():
    assert len(run("ccc.ccc", max_gap=0.5)) == 1  # a one-sample gap is 0.5 s
    merged = run("ccc.ccc", max_gap=0.5)[0]
    assert (merged.start, merged.end) == (0.0, 3.5)
    assert merged.score == pytest.approx((6 * 0.9 + 0.45) / 7)  # the gap's own probability counts
    assert len(run("ccc..ccc", max_gap=0.5)) == 2


def test_short_segments_are_dropped_and_nothing_confident_gives_nothing():
    assert [s.label for s in run("c....jjjj", min_duration=1.0)] == ["jump"]
    assert run("........") == []
    assert run("") == []


def test_smoothing_removes_a_one_sample_blip():
    assert {s.label for s in run("cccccjccccc")} == {"clap", "jump"}
    assert {s.label for s in run("cccccjccccc", smooth=3)} == {"clap"}


def test_segments_stay_inside_the_video():
    times, probs = curves("cccc")
    segs = extract_segments(times, probs, CLASSES, hop=HOP, duration=1.8, config=SegmentConfig(smooth=1))
    assert (segs[0].start, segs[0].end) == (0.0, 1.8)


def test_bad_input_is_named():
    times, probs = curves("cc")
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        extract_segments(times, probs[:, :1], CLASSES, hop=HOP, duration=1.0)
    with pytest.raises(ValueError, match="min_score"):
        SegmentConfig(min_score=1.5)


def test_a_background_class_gives_no_segments_and_interrupts_others():
    times, probs = curves("cccc")
    probs = np.concatenate([probs, np.zeros((4, 1))], axis=1)
    probs[1] = (0.05, 0.05, 0.9)  # the model's "background" class wins the second sample
    segs = extract_segments(times, probs, (*CLASSES, "background"), hop=HOP, duration=2.0,
                            config=SegmentConfig(smooth=1, max_gap=0.0, min_duration=0.0))
    assert [(s.label, s.start, s.end) for s in sorted(segs, key=lambda s: s.start)] == [
        ("clap", 0.0, 0.5), ("clap", 1.0, 2.0)]
