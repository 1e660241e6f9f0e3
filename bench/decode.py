"""Decoder throughput on real clips: frames/s per decoder per clip, as a rich table.

    .venv/bin/python bench/decode.py [CLIP_DIR] [--repeat N] [--clip-len 16]

Decoders: OpenCV sequential ``read`` + BGR→RGB (all frames); OpenCV ``grab`` for every frame and ``retrieve``
only for a ``clip_len`` uniform sample (what ``twostream.datasets.video.read_frames`` does for a clip; its
frames/s counts the frames traversed); torchvision.io and PyAV when this environment can decode with them.
Ratios are against OpenCV sequential. Timings depend on the machine's load: rerun on a quiet one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import cv2
from rich.console import Console
from rich.table import Table

from twostream.datasets.folder import VIDEO_EXTENSIONS
from twostream.datasets.sampling import uniform_indices
from twostream.datasets.video import probe, read_frames

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


def _opencv_all(path: Path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        count += 1
    capture.release()
    return count


def _opencv_sampled(clip_len: int) -> Callable[[Path], int]:
    def decode(path: Path) -> int:
        num_frames = probe(path).num_frames
        read_frames(path, uniform_indices(num_frames, clip_len))
        return num_frames  # every frame up to the last index is decoded (grabbed)
    return decode


def _torchvision() -> Callable[[Path], int] | str:
    import torchvision.io as io

    if not hasattr(io, "read_video"):
        return "unavailable"  # torchvision >= 0.24 moved video decoding to torchcodec
    try:
        return lambda path: int(io.read_video(str(path), pts_unit="sec", output_format="TCHW")[0].shape[0])
    except Exception:  # noqa: BLE001 - any backend failure means "cannot decode here"
        return "unavailable"


def _pyav() -> Callable[[Path], int] | str:
    try:
        import av
    except ImportError:
        return "not installed"

    def decode(path: Path) -> int:
        with av.open(str(path)) as container:
            return sum(1 for frame in container.decode(video=0) if frame.to_ndarray(format="rgb24") is not None)
    return decode


def _fps(decode: Callable[[Path], int], path: Path, repeat: int) -> float | str:
    best = float("inf")
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            frames = decode(path)
            best = min(best, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - report the failure in the table, keep benchmarking
        return f"error: {type(exc).__name__}"
    return frames / best


def _cell(value: float | str, reference: float | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(reference, str):
        return f"{value:,.0f}"
    return f"{value:,.0f} ({value / reference:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per clip and decoder")
    parser.add_argument("--clip-len", type=int, default=16)
    args = parser.parse_args()
    clips = sorted(p for p in args.clip_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    decoders: dict[str, Callable[[Path], int] | str] = {
        "OpenCV sequential": _opencv_all,
        f"OpenCV grab, {args.clip_len} retrieved": _opencv_sampled(args.clip_len),
        "torchvision.io": _torchvision(),
        "PyAV": _pyav(),
    }
    table = Table(title=f"decoding frames/s (best of {args.repeat}; ratio vs OpenCV sequential)")
    table.add_column("clip")
    table.add_column("frames", justify="right")
    for name in decoders:
        table.add_column(name, justify="right")
    for clip in clips:
        results = [d if isinstance(d, str) else _fps(d, clip, args.repeat) for d in decoders.values()]
        table.add_row(clip.name, str(probe(clip).num_frames), *(_cell(r, results[0]) for r in results))
    console = Console()
    if not console.is_terminal:  # piped into a file or a report: do not squeeze the table to 80 columns
        console.width = 160
    console.print(table)


if __name__ == "__main__":
    main()
