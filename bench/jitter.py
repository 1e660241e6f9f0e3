"""How much do MediaPipe keypoints jitter? Residual against a smoothed track, on the shared clips.

    python bench/jitter.py [--frames 150] [CLIP ...]

For each clip (default: every video in ``../shared/data/clips``), MediaPipe Pose (``pose.extract.extract_video``)
gives (T, 33, 4) keypoints, reduced to COCO-17. Per joint, the track is smoothed with a Savitzky-Golay filter
(scipy, 9 frames, quadratic) over runs of detected frames; the jitter is the std of (raw − smoothed) in units of
the person's height (the y extent of its joints; ``DetectorNoise`` uses the same unit). Also: the share of frames with nobody
found, and of joints MediaPipe itself scores below 0.5 (likely wrong). ``datasets.skeleton_aug.DetectorNoise``
defaults come from this table. Last line: ``jitter_height=J missed_frames=F low_score_joints=L`` (medians).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.signal import savgol_filter  # noqa: E402

from twostream.pose.extract import extract_video  # noqa: E402
from twostream.pose.skeleton import mediapipe33_to_coco17  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


def jitter(keypoints: np.ndarray, window: int = 9) -> tuple[float, float, float]:
    """(jitter in person heights, share of frames with nobody, share of found joints scored < 0.5) of (T, 17, 4)."""
    found = np.any(keypoints != 0, axis=(-1, -2))  # (T,)
    xy = keypoints[..., :2]
    height = xy[..., 1].max(-1) - xy[..., 1].min(-1)  # (T,)
    residuals = []
    start = 0
    for end in [*np.flatnonzero(np.diff(found.astype(int)) != 0) + 1, len(found)]:  # runs of equal `found`
        if found[start] and end - start >= window:
            run = xy[start:end]
            residuals.append(((run - savgol_filter(run, window, 2, axis=0)) / np.median(height[start:end]))
                             .reshape(-1, 2))
        start = end
    spread = float(np.concatenate(residuals).std()) if residuals else float("nan")
    low = float((keypoints[found][..., 3] < 0.5).mean()) if found.any() else float("nan")
    return spread, float(1 - found.mean()), low


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    clips = args.clips or sorted(p for p in SHARED.iterdir() if p.suffix in (".mp4", ".avi"))
    table = Table(title="MediaPipe jitter against a Savitzky-Golay track (person heights)")
    for column in ("clip", "frames", "jitter", "nobody", "joints < 0.5"):
        table.add_column(column, justify="right")
    rows = []
    for clip in clips:
        cache = extract_video(clip)
        kp = mediapipe33_to_coco17(cache.keypoints[: args.frames, 0])  # the main actor
        rows.append(jitter(kp))
        table.add_row(clip.name, str(len(kp)), *(f"{v:.3f}" for v in rows[-1]))
    Console().print(table)
    med = np.nanmedian(np.array(rows), axis=0)
    print(f"jitter_height={med[0]:.4f} missed_frames={med[1]:.3f} low_score_joints={med[2]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
