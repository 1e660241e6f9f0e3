"""Live sees what training saw: the live demo's last prediction per test video against offline prediction.

    .venv/bin/python bench/live_offline.py RUN_DIR [DATA] [--frame-step N] [--limit N] [--precision auto]
                                           [--mode MODE]

For every test video of the run's dataset (DATA defaults to the one the run records), the deterministic live
engine (every frame in order, inference inline every ``--stride`` frames, its window from the run's recorded
time scale unless ``--frame-step`` overrides it) plays the video and its LAST prediction is kept, as a user
watching the end of the clip would read it; offline, ``predict_video`` takes the run's evaluation clip. Live runs
in ``--precision`` (default auto, as ``twostream live``: bf16 on a CPU with AMX), offline always in fp32, the
scores evaluation reports. ``--mode`` picks another of a fused run's fitted fusion modes (a run whose tuned weight
is 1.0 answers with its pose stream alone, which hides the RGB stream's precision). Prints a rich table per class
and the last line ``offline_acc=A live_acc=L gap_points=G``.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's native log lines would bury the table
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from twostream.datasets.splits import load_split
from twostream.fusion.backends import PRECISIONS
from twostream.fusion.live import LiveConfig, LiveEngine
from twostream.fusion.live.capture import FrameSource
from twostream.fusion.run import load_run

console = Console()


def _root_of(run_dir: Path) -> Path:
    """The dataset a run (or a fused run's RGB stream) was trained on."""
    fusion = run_dir / "fusion.json"
    if fusion.is_file():
        return Path(json.loads(fusion.read_text())["root"])
    return Path(json.loads((run_dir / "config.json").read_text())["data"]["root"])


def _live_last(predictor, video: Path, config: LiveConfig) -> np.ndarray | None:
    results = []
    engine = LiveEngine(predictor, config, on_prediction=results.append)
    with FrameSource(video, realtime=False) as source:
        engine.run(source)
    return results[-1].fused if results else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("data", type=Path, nargs="?", default=None)
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--frame-step", type=int, default=None, help="override the run's time scale")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test videos")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="live's precision (offline: fp32)")
    parser.add_argument("--mode", default=None, help="a fused run's fusion mode (default: the one it chose)")
    args = parser.parse_args()
    root = args.data or _root_of(args.run_dir)
    predictor = load_run(args.run_dir, mode=args.mode)
    live_predictor = load_run(args.run_dir, mode=args.mode, precision=args.precision)
    items = load_split(root).test[:args.limit]
    config = LiveConfig(stride=args.stride, smooth=1, deterministic=True, frame_step=args.frame_step)
    offline, live, labels = [], [], []
    for item in items:
        offline.append(int(np.argmax(predictor.predict_video(item.path).fused)))
        last = _live_last(live_predictor, item.path, config)
        live.append(-1 if last is None else int(np.argmax(last)))
        labels.append(item.label)
    offline, live, labels = map(np.asarray, (offline, live, labels))
    table = Table(title=f"{args.run_dir}: {len(items)} test videos of {root}, live window "
                        f"{'--frame-step ' + str(args.frame_step) if args.frame_step else 'from the run'}, fusion "
                        f"{predictor.fusion.name if predictor.fusion else '-'}, live precision "
                        + ", ".join(f"{role} {b.precision}" for role, b in live_predictor.backends.items()))
    for column in ("class", "videos", "offline", "live (last prediction)"):
        table.add_column(column)
    for c, name in enumerate(predictor.classes):
        mine = labels == c
        if mine.any():
            table.add_row(name, str(mine.sum()), f"{(offline[mine] == c).mean():.2f}", f"{(live[mine] == c).mean():.2f}")
    console.print(table)
    off, on = float((offline == labels).mean()), float((live == labels).mean())
    print(f"offline_acc={off:.3f} live_acc={on:.3f} gap_points={100 * (off - on):.1f}")


if __name__ == "__main__":
    main()
