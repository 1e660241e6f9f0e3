"""Every keypoint cache checked once before any work: all problems in one line, `cp -r` copies stay fresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.pose.cache import PoseCache, cache_path_for, load_fresh, save_cache, video_digest, video_stamp
from twostream.pose.cache_check import check_caches

CLASSES = ("Jump", "Wave")
FRAMES = 8


def _write_cache(video: Path, seed: int) -> None:
    landmarks = np.random.default_rng(seed).uniform(0.3, 0.7, (FRAMES, 33, 4)).astype(np.float32)
    size, mtime = video_stamp(video)
    save_cache(PoseCache.from_single(landmarks=landmarks, world=landmarks.copy(), frame_indices=np.arange(FRAMES),
                                     detected=np.ones(FRAMES, bool), fps=25.0, num_frames=FRAMES, width=64,
                                     height=48, every=1, mediapipe_version="test", video_size=size,
                                     video_mtime_ns=mtime, video_digest=video_digest(video)),
               cache_path_for(video))


@pytest.fixture
def dataset(tmp_path, make_video) -> Path:
    root = tmp_path / "data"
    for label, name in enumerate(CLASSES):
        for g in range(1, 5):
            video = make_video(root / name / f"v_{name}_g{g:02d}_c01.avi", num_frames=FRAMES, seed=label * 10 + g)
            _write_cache(video, seed=g)
    return root


def _spoil(root: Path) -> list[Path]:
    """Four bad caches of four kinds: corrupt bytes, missing, stale (the video re-written), truncated."""
    videos = sorted(root.rglob("*.avi"))
    cache_path_for(videos[0]).write_bytes(b"not a zip")
    cache_path_for(videos[2]).unlink()
    videos[4].write_bytes(videos[4].read_bytes() + b"\0")
    data = cache_path_for(videos[6]).read_bytes()
    cache_path_for(videos[6]).write_bytes(data[: len(data) // 2])
    return [videos[i] for i in (0, 2, 4, 6)]


def test_train_lists_every_bad_cache_in_one_line_before_any_epoch(dataset, tmp_path, capsys):
    bad = _spoil(dataset)
    code = main(["train", str(dataset), "--model", "pose_gru", "--epochs", "1", "--workers", "0",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr()
    line = err.err.strip()
    assert code == 2 and "Traceback" not in err.out + err.err and "epoch" not in err.out
    assert len(line.splitlines()) == 1 and "4 of 8 keypoint caches are unusable" in line
    assert all(str(video) in line for video in bad), line
    assert f"twostream extract {dataset} --force" in line
    assert not (tmp_path / "run" / "last.pt").exists()


def test_skip_leaves_bad_caches_out_and_names_them(dataset, tmp_path, capsys):
    bad = _spoil(dataset)
    code = main(["train", str(dataset), "--model", "pose_gru", "--epochs", "1", "--workers", "0", "--clip-len", "4",
                 "--on-bad-cache", "skip", "--out", str(tmp_path / "run")])
    out = capsys.readouterr()
    assert code == 0 and "4 video(s) left out" in out.err
    assert all(video.name in out.err for video in bad)


def test_a_copied_dataset_keeps_its_caches_fresh(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy, copy_function=shutil.copyfile)  # like `cp -r`: new mtimes
    videos = sorted(copy.rglob("*.avi"))
    assert video_stamp(videos[0])[1] != video_stamp(dataset / videos[0].relative_to(copy))[1]
    assert check_caches(videos) == [] and load_fresh(videos[0]) is not None
    videos[1].write_bytes(videos[1].read_bytes()[:-1] + b"\1")  # same size, other content: stale
    assert [p.kind for p in check_caches(videos)] == ["stale"]


def test_a_cache_with_fewer_person_slots_than_the_model_reads_is_usable(dataset):
    videos = sorted(dataset.rglob("*.avi"))  # M = 1 caches; a 2-person model pads the absent slot with zeros
    assert check_caches(videos) == []


def test_extract_mode_redoes_the_bad_caches_there_and_then(dataset):
    from twostream.datasets.splits import load_split
    from twostream.pose.cache_check import screen_split

    bad = sorted(dataset.rglob("*.avi"))[1]
    cache_path_for(bad).unlink()
    split, dropped = screen_split(load_split(dataset), dataset, on_bad_cache="extract")
    assert dropped == () and load_fresh(bad) is not None
    assert sum(len(getattr(split, n)) for n in ("train", "val", "test")) == 8
