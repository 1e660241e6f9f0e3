"""Shared fixtures: tiny videos written with OpenCV at test time, and the shared real data when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_video(path: Path, num_frames: int = 12, size: tuple[int, int] = (64, 48), fps: float = 25.0,
                seed: int = 0) -> Path:
    """Write a small MJPG .avi of moving coloured squares; returns ``path``. ``size`` is (width, height)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 255, 3).tolist()
    for t in range(num_frames):
        frame = np.full((height, width, 3), 40, np.uint8)
        x = int((t * 3) % max(1, width - 10))
        frame[10:20, x:x + 10] = colour
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def make_video():
    """``make_video(path, num_frames=12, size=(64, 48), fps=25.0, seed=0) -> Path``."""
    return write_video


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip, with a reason, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # Two cores on CI: intra-op threads beyond that only add contention between test processes.
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield


@pytest.fixture(autouse=True, scope="session")
def _pose_bundle_cache(tmp_path_factory):
    """The MediaPipe ``.task`` bundle is built into a per-session folder, not the user's ~/.cache."""
    saved = os.environ.get("TWOSTREAM_CACHE")
    os.environ["TWOSTREAM_CACHE"] = str(tmp_path_factory.mktemp("twostream-cache"))
    yield
    if saved is None:
        os.environ.pop("TWOSTREAM_CACHE", None)
    else:
        os.environ["TWOSTREAM_CACHE"] = saved
