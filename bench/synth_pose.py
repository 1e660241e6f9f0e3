"""Does MediaPipe Pose see the cartoon actors? Detection rate and wrist error per class, on a fresh synth set.

    python bench/synth_pose.py [--videos-per-class 4] [--size 160x120] [--seed 0] [--frames 40]

Runs the pose backend (``PoseStream(PoseConfig(persons=1))``: MediaPipe Tasks, full model, one fresh stream per
video, frames as RGB) over every clip that ``twostream.datasets.synth.generate`` writes, and compares
the wrist landmarks (x, y times the frame size) with the drawn ground truth in ``<stem>.joints.npy``. Wrist error
is in units of the figure's height (nose to ankle / 0.89, the standing head-to-sole height). The goal: detection
>= 95 % in every class and a median wrist error well under 0.10.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from twostream.cli.cmd_synth import parse_size  # noqa: E402
from twostream.datasets.cartoon import JOINTS  # noqa: E402
from twostream.datasets.synth import generate  # noqa: E402
from twostream.pose.backends import PoseConfig  # noqa: E402
from twostream.pose.tracking import PoseStream  # noqa: E402

# MediaPipe's 33-landmark indices of the wrists, and the same joints in the synth ground truth.
_WRISTS = ((15, JOINTS.index("left_wrist")), (16, JOINTS.index("right_wrist")))
_NOSE, _ANKLE = JOINTS.index("nose"), JOINTS.index("left_ankle")


def measure_video(path: Path, joints: np.ndarray) -> tuple[int, int, list[float]]:
    """(frames with a person, frames, wrist errors in figure heights) for one clip."""
    height_px = float((joints[:, _ANKLE, 1] - joints[:, _NOSE, 1]).max()) / 0.89
    capture = cv2.VideoCapture(str(path))
    detected, total, errors = 0, 0, []
    with PoseStream(PoseConfig(persons=1)) as stream:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            tracked = stream.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), round(total * 1000 / 25))
            if tracked.track_ids[0] >= 0:
                marks = tracked.keypoints[0]  # (33, 4)
                detected += 1
                for mp_index, j in _WRISTS:
                    found = np.array([marks[mp_index, 0] * w, marks[mp_index, 1] * h])
                    errors.append(float(np.linalg.norm(found - joints[total, j])) / height_px)
            total += 1
    capture.release()
    return detected, total, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos-per-class", type=int, default=4)
    parser.add_argument("--size", type=parse_size, default=(160, 120))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args(argv)
    console = Console()
    table = Table(title=f"MediaPipe Tasks on cartoon actors, {args.size[0]}x{args.size[1]}, "
                        f"{args.videos_per_class} videos x {args.frames} frames per class")
    for column in ("class", "detected", "wrist err median", "wrist err p90"):
        table.add_column(column, justify="left" if column == "class" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = generate(tmp, videos_per_class=args.videos_per_class, seed=args.seed, frames=args.frames,
                           size=args.size)
        render_s = time.perf_counter() - start
        all_det = all_tot = 0
        all_err: list[float] = []
        for name in summary.classes:
            det = tot = 0
            err: list[float] = []
            for video in sorted((Path(tmp) / name).glob("*.avi")):
                d, t, e = measure_video(video, np.load(video.with_suffix(".joints.npy")))
                det, tot, err = det + d, tot + t, err + e
            table.add_row(name, f"{det / tot:.1%}", f"{np.median(err):.3f}", f"{np.percentile(err, 90):.3f}")
            all_det, all_tot, all_err = all_det + det, all_tot + tot, all_err + err
        table.add_row("[bold]all", f"{all_det / all_tot:.1%}", f"{np.median(all_err):.3f}",
                      f"{np.percentile(all_err, 90):.3f}")
    console.print(table)
    console.print(f"rendering {summary.num_videos} videos took {render_s:.1f} s "
                  f"({1000 * render_s / (summary.num_videos * args.frames):.2f} ms per frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
