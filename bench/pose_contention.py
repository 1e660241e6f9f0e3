"""What the live demo's inference thread costs pose on the other core: MediaPipe per frame alone, and while R3D-18
runs back to back in another thread in fp32 and in bf16.

    .venv/bin/python bench/pose_contention.py [--clip CLIP] [--frames 150] [--persons 2]

On a CPU with AMX, bf16 makes R3D-18 several times cheaper; this asks whether the AMX work on one core slows
pose on the other (in ``bench/live.py``, ``--precision auto`` raised the prediction rate and lowered the frame
rate). Pose's own run-to-run swing on a shared VM can exceed the effect: repeat it. Reported: pose p50 ms per
frame (after 10 warm-up frames) with the other core idle, busy with fp32 R3D-18 and busy with bf16 R3D-18 (both
channels-last, 1 thread). The last line is ``pose_ms_idle=A pose_ms_fp32=B pose_ms_bf16=C bf16_over_idle=R``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's native log lines would bury the table
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision
from rich.console import Console
from rich.table import Table

from twostream.pose.backends import PoseConfig, open_estimator

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "mmaction2_test.mp4"


def read_rgb(clip: Path, count: int) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(clip)), []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if len(frames) < 20:
        raise SystemExit(f"{clip}: only {len(frames)} frames could be read; pass --clip")
    return frames


def pose_ms(frames: list[np.ndarray], persons: int) -> float:
    """Median ms of one ``process`` call, after 10 warm-up frames."""
    times = []
    with open_estimator(PoseConfig(persons=persons)) as estimator:
        for i, frame in enumerate(frames):
            start = time.perf_counter()
            estimator.process(frame, int(i * 1000 / 30))
            times.append(time.perf_counter() - start)
    return float(np.median(times[10:]) * 1e3)


def busy_r3d(dtype: torch.dtype, stop: threading.Event) -> None:
    """R3D-18 on a 16×112² clip back to back until ``stop`` (channels-last, weights and input in ``dtype``)."""
    model = torchvision.models.video.r3d_18().eval().to(memory_format=torch.channels_last_3d, dtype=dtype)
    clip = torch.randn(1, 3, 16, 112, 112).to(memory_format=torch.channels_last_3d, dtype=dtype)
    with torch.inference_mode():
        while not stop.is_set():
            model(clip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--persons", type=int, default=2)
    args = parser.parse_args()
    if not args.clip.is_file():
        raise SystemExit(f"clip not found: {args.clip}; pass --clip")
    torch.set_num_threads(1)
    frames = read_rgb(args.clip, args.frames)
    results = {}
    for name, dtype in (("idle", None), ("fp32", torch.float32), ("bf16", torch.bfloat16)):
        stop = threading.Event()
        worker = None if dtype is None else threading.Thread(target=busy_r3d, args=(dtype, stop), daemon=True)
        if worker is not None:
            worker.start()
            time.sleep(2.0)  # the model is built and running before pose starts
        results[name] = pose_ms(frames, args.persons)
        stop.set()
        if worker is not None:
            worker.join()
    table = Table(title=f"MediaPipe pose per frame ({args.clip.name}, {len(frames)} frames, {args.persons} persons) "
                        "while the other core runs R3D-18")
    for column in ("other core", "pose p50 ms / frame", "vs idle"):
        table.add_column(column, justify="right")
    for name, ms in results.items():
        table.add_row(name, f"{ms:.1f}", f"{ms / results['idle']:.2f}×")
    Console().print(table)
    print(f"pose_ms_idle={results['idle']:.1f} pose_ms_fp32={results['fp32']:.1f} "
          f"pose_ms_bf16={results['bf16']:.1f} bf16_over_idle={results['bf16'] / results['idle']:.2f}")


if __name__ == "__main__":
    main()
