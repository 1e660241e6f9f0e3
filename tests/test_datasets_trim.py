"""ActivityNet-style trimming: clips written per segment, every bad entry reported by video id, CLI exit codes."""

from __future__ import annotations

import json

import pytest

from twostream.cli.main import main
from twostream.datasets.activitynet import REPORT_NAME, trim_dataset
from twostream.datasets.video import probe

FPS = 10.0


@pytest.fixture
def videos(tmp_path, make_video):
    folder = tmp_path / "raw"
    make_video(folder / "abc.avi", num_frames=40, fps=FPS)  # 4 s
    make_video(folder / "v_def.avi", num_frames=20, fps=FPS)  # 2 s, found through the v_ prefix
    (folder / "broken.avi").write_bytes(b"\x00garbage" * 100)
    return folder


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


ANNOTATIONS = {
    "abc": {"duration": 4.0, "subset": "training", "annotations": [
        {"segment": [0.0, 1.0], "label": "Long jump"},
        {"segment": [3.0, 2.0], "label": "Long jump"},       # ends before it starts
        {"segment": [1.5, 3.5], "label": "High jump"},
        {"segment": [-1.0, 0.5], "label": "High jump"},      # negative
    ]},
    "def": {"annotations": [
        {"segment": [0.5, 1.5], "label": "Long jump"},
        {"segment": [5.0, 9.0], "label": "Long jump"},       # beyond the 2 s video
    ]},
    "ghost": {"annotations": [{"segment": [0, 1], "label": "Long jump"}]},
    "broken": {"annotations": [{"segment": [0, 1], "label": "Long jump"}]},
}


@pytest.mark.parametrize("wrapped", [True, False])
def test_good_segments_are_written_and_bad_ones_reported(tmp_path, videos, wrapped):
    annotations = _write(tmp_path / "ann.json", {"version": "1.3", "database": ANNOTATIONS} if wrapped
                         else ANNOTATIONS)
    out = tmp_path / "out"
    report = trim_dataset(annotations, videos, out)
    assert sorted(report.written) == ["High jump/abc_2.mp4", "Long jump/abc_0.mp4", "Long jump/def_0.mp4"]
    assert probe(out / "Long jump/abc_0.mp4").num_frames == 10
    assert probe(out / "High jump/abc_2.mp4").num_frames == 20
    assert probe(out / "Long jump/def_0.mp4").num_frames == 10
    problems = {(f.video_id, f.segment): f.reason for f in report.failures}
    assert set(problems) == {("abc", 1), ("abc", 3), ("def", 1), ("ghost", None), ("broken", None)}
    assert "ends before it starts" in problems["abc", 1] and "negative" in problems["abc", 3]
    assert "beyond the video's duration" in problems["def", 1]
    assert "ghost" in problems["ghost", None] and "broken.avi" in problems["broken", None]
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["format_version"] == 1 and len(saved["failures"]) == 5 and len(saved["written"]) == 3
    assert not list(out.rglob(".*partial*"))  # no temp files left behind


def test_existing_clips_are_kept_unless_overwrite(tmp_path, videos):
    annotations = _write(tmp_path / "ann.json", {"abc": ANNOTATIONS["abc"]})
    out = tmp_path / "out"
    trim_dataset(annotations, videos, out, ext="avi")
    again = trim_dataset(annotations, videos, out, ext="avi")
    assert again.written == () and sorted(again.skipped) == ["High jump/abc_2.avi", "Long jump/abc_0.avi"]
    assert len(trim_dataset(annotations, videos, out, ext="avi", overwrite=True).written) == 2


def test_malformed_entries_are_reported_not_raised(tmp_path, videos):
    annotations = _write(tmp_path / "ann.json", {"abc": {"annotations": [{"segment": [0, 1]},
                                                                       {"segment": [0, 1], "label": "Run"}]},
                                                 "def": "not an entry"})
    report = trim_dataset(annotations, videos, tmp_path / "out")
    assert report.written == ("Run/abc_1.mp4",)
    assert {(f.video_id, f.segment) for f in report.failures} == {("abc", 0), ("def", None)}


def test_invalid_json_is_a_clear_error(tmp_path, videos):
    bad = tmp_path / "ann.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="ann.json is not valid JSON"):
        trim_dataset(bad, videos, tmp_path / "out")


def test_cli_exit_codes(tmp_path, videos, capsys):
    good = _write(tmp_path / "good.json", {"abc": {"annotations": ANNOTATIONS["abc"]["annotations"][:1]}})
    assert main(["trim", str(good), str(videos), str(tmp_path / "out1")]) == 0
    assert (tmp_path / "out1/Long jump/abc_0.mp4").is_file()
    mixed = _write(tmp_path / "mixed.json", ANNOTATIONS)
    assert main(["trim", str(mixed), str(videos), str(tmp_path / "out2")]) == 1
    out = capsys.readouterr()
    assert "ghost" in out.out and "wrote 3 clips" in out.out
    assert main(["trim", str(good), str(tmp_path / "nowhere"), str(tmp_path / "out3")]) == 2
