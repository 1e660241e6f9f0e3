"""Dataset-scale extraction: the real MediaPipe on cartoon and tiny synthetic videos."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.pose.cache import cache_path_for, keypoints_at, load_cache
from twostream.pose.extract import (ExtractConfig, extract_dataset, extract_video, list_videos, parse_shard,
                                    report_path_for, shard_videos)
from twostream.pose.skeleton import MEDIAPIPE_33

synth = pytest.importorskip("twostream.datasets.synth", reason="helper B's cartoon renderer is not there yet")
ONE = ExtractConfig(workers=1)


def _statuses(report) -> dict[str, str]:
    return {r.video: r.status for r in report.results}


def test_a_cartoon_wave_is_found_and_the_right_wrist_waves(tmp_path):
    from twostream.datasets.cartoon import JOINTS

    video = tmp_path / "wave.avi"
    joints = synth.render_video("wave_right", video, seed=3, frames=50, size=(160, 120))  # (T, J, 2) pixels
    cache = extract_video(video)
    assert cache.keypoints.shape == (50, 2, 33, 4) and cache.num_frames == 50
    assert cache.detected.mean() >= 0.9
    wrist = cache.keypoints[:, 0, MEDIAPIPE_33.index("right_wrist"), 0]  # (T,) normalised x
    truth = joints[:, JOINTS.index("right_wrist"), 0] / 160
    assert np.corrcoef(wrist, truth)[0, 1] > 0.8
    centred = wrist - wrist.mean()
    crossings = np.count_nonzero(np.diff(np.sign(centred)) != 0)
    assert crossings >= 6  # 2 Hz for 2 s: four back-and-forth swings
    other = cache.keypoints[:, 0, MEDIAPIPE_33.index("left_wrist"), 0]
    assert wrist.std() > other.std()  # the resting wrist moves less


def test_rerun_skips_and_a_touched_video_is_redone(tmp_path, make_video):
    for name in ("a/one.avi", "b/two.avi"):
        make_video(tmp_path / name, num_frames=6)
    first = extract_dataset(tmp_path, ONE)
    assert _statuses(first) == {"a/one.avi": "extracted", "b/two.avi": "extracted"}
    one_cache = cache_path_for(tmp_path / "a/one.avi")
    stamp = one_cache.stat().st_mtime_ns
    second = extract_dataset(tmp_path, ONE)
    assert _statuses(second) == {"a/one.avi": "skipped", "b/two.avi": "skipped"}
    assert one_cache.stat().st_mtime_ns == stamp
    st = os.stat(tmp_path / "b/two.avi")
    os.utime(tmp_path / "b/two.avi", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    touched = extract_dataset(tmp_path, ONE)  # same content (as after `cp -r`): the digest keeps it fresh
    assert _statuses(touched) == {"a/one.avi": "skipped", "b/two.avi": "skipped"}
    make_video(tmp_path / "b/two.avi", num_frames=7)
    third = extract_dataset(tmp_path, ONE)
    assert _statuses(third) == {"a/one.avi": "skipped", "b/two.avi": "extracted"}
    forced = extract_dataset(tmp_path, ExtractConfig(workers=1, force=True))
    assert set(_statuses(forced).values()) == {"extracted"}


def test_no_person_frames_are_kept_as_zeros(tmp_path, make_video):
    video = make_video(tmp_path / "empty_room.avi", num_frames=5)
    cache = extract_video(video)
    assert cache.frame_indices.tolist() == [0, 1, 2, 3, 4]
    assert not cache.detected.any() and not cache.keypoints.any() and (cache.track_ids == -1).all()


def test_every_k_processes_every_kth_frame(tmp_path, make_video):
    video = make_video(tmp_path / "clip.avi", num_frames=7)
    extract_dataset(video, ExtractConfig(workers=1, every=3))
    cache = load_cache(cache_path_for(video))
    assert cache.frame_indices.tolist() == [0, 3, 6] and cache.num_frames == 7 and cache.every == 3
    assert keypoints_at(cache, np.arange(7)).shape == (7, 2, 33, 4)


def test_broken_videos_are_reported_and_the_others_finish(tmp_path, make_video):
    make_video(tmp_path / "good.avi", num_frames=6)
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "garbage.mp4").write_bytes(os.urandom(2000))
    whole = make_video(tmp_path / "whole.avi", num_frames=30).read_bytes()
    (tmp_path / "truncated.avi").write_bytes(whole[: len(whole) // 2])
    assert main(["extract", str(tmp_path), "--workers", "1"]) == 1
    report = json.loads((tmp_path / "extract-report.json").read_text())
    entries = {e["video"]: e for e in report["videos"]}
    assert set(entries) == {"good.avi", "empty.avi", "garbage.mp4", "truncated.avi", "whole.avi"}
    assert entries["good.avi"]["status"] == "extracted" and entries["good.avi"]["frames"] == 6
    for bad in ("empty.avi", "garbage.mp4"):
        assert entries[bad]["status"] == "failed" and bad in entries[bad]["reason"]
        assert not cache_path_for(tmp_path / bad).exists()
    truncated = entries["truncated.avi"]
    assert truncated["status"] == "failed" or (0 < truncated["frames"] < 30 and "truncated" in truncated["reason"])
    assert set(entries[v]["status"] for v in ("good.avi", "whole.avi")) == {"extracted"}
    assert main(["extract", str(tmp_path / "good.avi"), "--workers", "1"]) == 0  # a single healthy file


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_cover_every_video_exactly_once(tmp_path, n):
    names = [f"c{k % 3}/v{k:02d}.avi" for k in range(11)] + ["x.mp4", "notes.txt", "c0/v00.pose.mp4"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    videos = list_videos(tmp_path)
    assert len(videos) == 12  # the text file and the annotated .pose.mp4 are not inputs
    shares = [shard_videos(videos, (i, n)) for i in range(1, n + 1)]
    assert sorted(v for share in shares for v in share) == sorted(videos)
    assert shard_videos(list_videos(tmp_path), (1, n)) == shares[0]  # deterministic


def test_shard_parsing_and_report_names(tmp_path):
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)
    assert report_path_for(tmp_path, (1, 1)).name == "extract-report.json"
    assert report_path_for(tmp_path, (2, 3)).name == "extract-report.shard-2-of-3.json"


def test_two_workers_and_a_shard_write_their_own_report(tmp_path, make_video):
    for k in range(4):
        make_video(tmp_path / f"v{k}.avi", num_frames=4, seed=k)
    stale_temp = tmp_path / ".v0.pose.npz.999-deadbeef.tmp"  # left by a run killed mid-write
    stale_temp.write_bytes(b"PK\x03\x04half")
    report = extract_dataset(tmp_path, ExtractConfig(workers=2, shard=(1, 2)))
    assert [r.video for r in report.results] == ["v0.avi", "v2.avi"]
    assert set(_statuses(report).values()) == {"extracted"}
    assert report.report_path == tmp_path / "extract-report.shard-1-of-2.json"
    assert not (tmp_path / "extract-report.json").exists()
    assert not stale_temp.exists()
    assert {p.name for p in tmp_path.glob("*.pose.npz")} == {"v0.pose.npz", "v2.pose.npz"}


def test_pose_show_writes_an_annotated_copy(tmp_path, monkeypatch):
    import cv2

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    video = tmp_path / "wave.avi"
    synth.render_video("wave_right", video, seed=1, frames=12, size=(160, 120))
    assert main(["pose-show", str(video)]) == 0
    out = tmp_path / "wave.pose.mp4"
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 and int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 160
    capture.release()
    assert cache_path_for(video).exists()  # extracted on the way, reused next time
    assert list_videos(tmp_path) == [video]


def test_a_killed_run_leaves_only_whole_caches_and_resumes(tmp_path, make_video):
    import signal
    import subprocess
    import sys
    import time

    for k in range(4):
        make_video(tmp_path / f"v{k}.avi", num_frames=40, seed=k)
    command = [sys.executable, "-m", "twostream", "extract", str(tmp_path), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and not list(tmp_path.glob("*.pose.npz")):
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)  # at whatever instant it happens to be: between or inside writes
        process.wait()
    done = sorted(p.name for p in tmp_path.glob("*.pose.npz"))
    assert done  # the first cache appeared before the kill
    for name in done:
        assert load_cache(tmp_path / name).num_frames == 40  # every visible cache is whole
    report = extract_dataset(tmp_path, ONE)
    statuses = _statuses(report)
    assert [v for v, s in statuses.items() if s == "skipped"] == [n.replace(".pose.npz", ".avi") for n in done]
    assert set(statuses.values()) <= {"skipped", "extracted"}
    assert not list(tmp_path.glob(".*.tmp"))  # temp files of the killed writer were cleaned up


def test_the_report_counts_persons_and_a_version_1_cache_is_upgraded(tmp_path):
    synth.render_video("handshake", tmp_path / "pair.avi", seed=5, frames=12)
    synth.render_video("wave_right", tmp_path / "solo.avi", seed=3, frames=12)
    old = cache_path_for(tmp_path / "solo.avi")
    np.savez_compressed(old, format_version=1, landmarks=np.zeros((1, 33, 4)))  # a (broken) legacy cache
    assert main(["extract", str(tmp_path), "--workers", "1", "--persons", "2"]) == 0
    report = json.loads((tmp_path / "extract-report.json").read_text())
    entries = {e["video"]: e for e in report["videos"]}
    assert entries["pair.avi"]["frames_2plus"] >= 11 and entries["solo.avi"]["frames_2plus"] == 0
    assert entries["solo.avi"]["status"] == "extracted" and entries["solo.avi"]["frames_1plus"] >= 11
    assert report["person_frames"]["2plus"] == entries["pair.avi"]["frames_2plus"]
    assert report["config"]["pose"]["persons"] == 2
    cache = load_cache(old)
    assert cache.format_version == 2 and cache.persons == 2 and cache.model == "full"
