"""`twostream quickstart` with its smallest settings runs every stage through the CLI and leaves the artefacts."""

from __future__ import annotations

import json


from twostream.cli.main import main
from twostream.datasets.video import read_frames


def _frame_count(path) -> int:
    return len(read_frames(path))  # frames that really decode, not the container's claim


def test_quickstart_smallest_settings_writes_fused_metrics_and_live_video(tmp_path):
    out = tmp_path / "qs"
    code = main(["quickstart", "--out", str(out), "--classes", "wave_right,jump", "--videos-per-class", "6",
                 "--frames", "12", "--epochs", "1", "--clip-len", "4", "--workers", "1"])
    assert code == 0
    metrics = json.loads((out / "runs" / "fused" / "metrics.json").read_text())
    assert metrics  # the side-by-side evaluation of the fused run was written
    for stream in ("rgb", "pose"):  # wave_left / wave_right: neither stream may train on mirrored samples
        config = json.loads((out / "runs" / stream / "config.json").read_text())
        assert config["config"]["flip"] is False and config["data"]["flip"] is False
    test_videos = (out / "data" / "testlist01.txt").read_text().split()
    assert _frame_count(out / "data" / test_videos[0]) == 12
    assert _frame_count(out / "live.mp4") == 3 * 12  # the test clip three times over (--loop)
    windows = [json.loads(line)["window"] for line in (out / "live.jsonl").read_text().splitlines()]
    assert len(windows) >= 2 and windows[0][1] < 3 * 12 - 1  # labels show before the end of the video
