"""Does the second person matter? Keypoints of ``--persons 1`` vs ``--persons 2`` on the two-actor cartoon classes.

    .venv/bin/python bench/persons.py [--videos-per-class 12] [--frames 32] [--out DIR]

Renders ``handshake``, ``push``, ``hug`` and ``point`` (``twostream synth``), extracts them once with
``--persons 2`` (slot 0 = the main actor, slot 1 = the other person) and trains the same classifier (scikit-learn
ExtraTrees, 300 trees) on per-video keypoint statistics of slot 0 alone (what ``--persons 1`` keeps) and of both
slots, on synth's train split, scored on its test split (unseen actors). A stand-in for the keypoint stream
until the keypoint models take M persons: it shows whether the information is in the second slot. The last
line is ``accuracy_persons1=A accuracy_persons2=B``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.metrics import accuracy_score

from twostream.datasets.synth import generate
from twostream.pose.backends import PoseConfig
from twostream.pose.cache import cache_path_for, load_cache
from twostream.pose.extract import ExtractConfig, extract_dataset

CLASSES = ("handshake", "push", "hug", "point")
console = Console()


def _features(keypoints: np.ndarray) -> np.ndarray:
    """(N, M, V, 4) → per slot: mean and std of x, y, |frame difference| of x, y, and presence."""
    xy = keypoints[..., :2]  # (N, M, V, 2)
    present = (keypoints[..., 3].sum(-1) > 0).mean(0)  # (M,)
    motion = np.abs(np.diff(xy, axis=0)).mean(0) if len(xy) > 1 else np.zeros_like(xy[0])  # (M, V, 2)
    return np.concatenate([xy.mean(0).ravel(), xy.std(0).ravel(), motion.ravel(), present])


def _split(root: Path, listing: str, persons: int) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for line in (root / listing).read_text().splitlines():
        rel = line.split()[0]
        cache = load_cache(cache_path_for(root / rel))
        rows.append(_features(cache.keypoints[:, :persons]))
        labels.append(CLASSES.index(rel.split("/")[0]))
    return np.stack(rows), np.asarray(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos-per-class", type=int, default=12)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep the dataset here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twostream-persons-") as tmp:
        root = args.out or Path(tmp) / "pairs"
        generate(root, videos_per_class=args.videos_per_class, frames=args.frames, classes=CLASSES,
                 clips_per_group=1, seed=0)
        report = extract_dataset(root, ExtractConfig(workers=args.workers, pose=PoseConfig(persons=2)))
        both = sum(r.frames_2plus for r in report.results) / max(1, sum(r.frames for r in report.results))
        table = Table(title=f"{'/'.join(CLASSES)}, {args.videos_per_class} videos per class, test split = "
                            f"unseen actors; frames with 2 persons found: {both:.1%}")
        for column in ("keypoints", "train", "test", "accuracy"):
            table.add_column(column, justify="right" if column != "keypoints" else "left")
        scores = {}
        for persons in (1, 2):
            x_train, y_train = _split(root, "trainlist01.txt", persons)
            x_test, y_test = _split(root, "testlist01.txt", persons)
            model = ExtraTreesClassifier(n_estimators=300, random_state=0).fit(x_train, y_train)
            scores[persons] = accuracy_score(y_test, model.predict(x_test))
            table.add_row(f"--persons {persons}", str(len(y_train)), str(len(y_test)), f"{scores[persons]:.3f}")
        console.print(table)
        print(f"accuracy_persons1={scores[1]:.3f} accuracy_persons2={scores[2]:.3f} chance={1 / len(CLASSES):.3f}")


if __name__ == "__main__":
    main()
