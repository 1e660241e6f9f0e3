"""Untrimmed cartoon videos: the script, ActivityNet-style ground truth with subsets by actor, trim → clip dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.datasets.folder import scan_class_folders
from twostream.datasets.untrimmed import generate_untrimmed, script, subset_of
from twostream.datasets.video import probe

CLASSES = ("jump", "wave_right", "squat")


@pytest.mark.parametrize("seed", range(5))
def test_script_fills_the_video_with_actions_between_idle_stretches(seed):
    parts = script(np.random.default_rng(seed), 60.0, CLASSES)
    assert parts[0].start == 0.0 and parts[-1].end == pytest.approx(60.0)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(parts, parts[1:]))  # contiguous
    actions = [p for p in parts if p.kind in CLASSES]
    assert len(actions) >= 4 and all(3.0 <= p.end - p.start <= 7.0 for p in actions[:-1])
    kinds = [p.kind for p in parts]
    assert all(not (a in CLASSES and b in CLASSES) for a, b in zip(kinds, kinds[1:]))  # never back to back


def test_subsets_go_by_actor():
    assert [subset_of(a, 10) for a in range(10)] == ["training"] * 6 + ["validation"] * 2 + ["testing"] * 2
    assert {subset_of(a, 3) for a in range(3)} == {"training", "validation", "testing"}


def test_generate_and_trim_into_a_clip_dataset(tmp_path):
    out = tmp_path / "u"
    assert main(["synth", str(out), "--untrimmed", "3", "--duration", "12-14", "--size", "64x48",
                 "--classes", ",".join(CLASSES)]) == 0
    database = json.loads((out / "annotations.json").read_text())["database"]
    assert sorted(e["subset"] for e in database.values()) == ["testing", "training", "validation"]
    for vid, entry in database.items():
        info = probe(out / "videos" / f"{vid}.avi")
        assert (info.width, info.height) == (64, 48)
        assert info.num_frames == round(entry["duration"] * 25)
        assert entry["annotations"] and all(a["label"] in CLASSES for a in entry["annotations"])
        assert all(0 <= a["segment"][0] < a["segment"][1] <= entry["duration"] for a in entry["annotations"])
    again = generate_untrimmed(tmp_path / "again", videos=1, duration=(12, 14), size=(64, 48), classes=CLASSES)
    assert json.loads(again.annotations.read_text())["database"]["u000_g00"] == database["u000_g00"]

    clips = tmp_path / "clips"
    assert main(["trim", str(out / "annotations.json"), str(out / "videos"), str(clips),
                 "--subset", "training,validation"]) == 0
    classes, items = scan_class_folders(clips)
    kept = [v for v, e in database.items() if e["subset"] != "testing"]
    assert len(items) == sum(len(database[v]["annotations"]) for v in kept)
    assert set(classes) <= set(CLASSES) and all(item.rel.split("/")[1][:8] in kept for item in items)

    capped = tmp_path / "capped"
    assert main(["trim", str(out / "annotations.json"), str(out / "videos"), str(capped), "--subset",
                 "training,validation", "--background", "background", "--background-per-video", "1"]) == 0
    assert 1 <= len(list((capped / "background").iterdir())) <= len(kept)
    assert main(["trim", str(out / "annotations.json"), str(out / "videos"), str(tmp_path / "bad"),
                 "--background", "background", "--background-per-video", "0"]) == 2


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="at least 10 s"):
        generate_untrimmed(tmp_path, videos=1, duration=(5, 6))
    with pytest.raises(ValueError, match="unknown action"):
        generate_untrimmed(tmp_path, videos=1, classes=["fly"])


def test_background_stretches_between_segments():
    from twostream.datasets.activitynet import Segment, background_segments

    segments = [Segment("v", 0, 2.0, 5.0, "a"), Segment("v", 1, 5.5, 9.0, "b"), Segment("v", 2, 12.0, 20.0, "c")]
    gaps = background_segments(segments, 25.0, "background")
    assert [(g.index, g.start, g.end, g.label) for g in gaps] == [
        (3, 0.0, 2.0, "background"), (4, 9.0, 12.0, "background"), (5, 20.0, 25.0, "background")]  # 0.5 s gap: too short
    longest = background_segments(segments, 25.0, "background", per_video=2)
    assert [(g.index, g.start, g.end) for g in longest] == [(3, 9.0, 12.0), (4, 20.0, 25.0)]  # in time order


def test_a_bystander_walks_across_without_changing_the_ground_truth():
    from twostream.datasets.cartoon import draw_background, random_look
    from twostream.datasets.untrimmed import Pass, _frames, _random_actor, bystander_passes

    passes = [bystander_passes(np.random.default_rng(s), 30.0) for s in range(20)]
    assert 4 <= sum(bool(p) for p in passes) <= 16  # about half the videos
    assert all(0 <= p.start < p.end <= 30.0 and 4.0 <= p.end - p.start <= 7.0 for ps in passes for p in ps)

    size = (64, 48)
    rng = np.random.default_rng(0)
    parts = script(rng, 12.0, CLASSES)
    actor = _random_actor(rng, size)
    background = draw_background(np.random.default_rng(1), size, actor.home[1])
    look, other = random_look(np.random.default_rng(2)), random_look(np.random.default_rng(3))
    walk = [Pass(2.0, 6.0, True)]
    alone = [f for f, _ in _frames(parts, actor, look, background, np.random.default_rng(4), 300)]
    with_bystander = [f for f, _ in _frames(parts, actor, look, background, np.random.default_rng(4), 300,
                                            walk, other)]
    changed = [i for i, (a, b) in enumerate(zip(alone, with_bystander)) if not np.array_equal(a, b)]
    assert changed and 50 <= min(changed) and max(changed) < 150  # drawn only during the pass (2-6 s at 25 fps)
    assert len(changed) > 60  # and visible for most of it (not hidden behind the actor)
