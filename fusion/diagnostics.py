"""Class by class, which stream carries a fused run's decision: ``per-class.csv`` and ``per-class.png``.

From ``fusion.evaluation.evaluate_fused``'s result: the recall of every class for the RGB stream, the pose stream
and the chosen fusion mode, and the gain of fusion over the better of the two streams on that class.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from twostream.streams.checkpoint import atomic_path, write_text

FIELDS = ("class", "support", "rgb", "pose", "fused", "gain")


class ClassRecall(NamedTuple):
    name: str
    support: int
    """Test videos of the class."""
    rgb: float
    pose: float
    fused: float
    """Recall of the chosen fusion mode."""
    gain: float
    """``fused - max(rgb, pose)``: what fusion adds over the better stream on this class."""


def per_class_recall(result: dict[str, Any]) -> list[ClassRecall]:
    """One row per class present in the split, largest fusion gain first (ties: by name)."""
    scores = result["results"]
    fused = scores[f"fused:{result['chosen']}"]["per_class"]
    rows = []
    for name in result["classes"]:
        rgb, pose = (scores[role]["per_class"][name]["recall"] for role in ("rgb", "pose"))
        if fused[name]["support"] > 0:
            rows.append(ClassRecall(name, fused[name]["support"], rgb, pose, fused[name]["recall"],
                                    fused[name]["recall"] - max(rgb, pose)))
    return sorted(rows, key=lambda r: (-r.gain, r.name))


def most_disagreeing(rows: Sequence[ClassRecall], k: int = 8) -> list[ClassRecall]:
    """The ``k`` classes where the streams' recalls differ most (``|rgb - pose|``), largest first."""
    return sorted(rows, key=lambda r: (-abs(r.rgb - r.pose), r.name))[:k]


def write_per_class(rows: Sequence[ClassRecall], run_dir: str | Path, *, title: str) -> list[Path]:
    """``per-class.csv`` (``FIELDS``, rows as sorted) and ``per-class.png`` in ``run_dir``, each atomically."""
    run_dir = Path(run_dir)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIELDS)
    writer.writerows([r.name, r.support, *(f"{v:.4f}" for v in r[2:])] for r in rows)
    write_text(run_dir / "per-class.csv", buf.getvalue())
    _plot(rows, run_dir / "per-class.png", title=title)
    return [run_dir / "per-class.csv", run_dir / "per-class.png"]


def _plot(rows: Sequence[ClassRecall], path: Path, *, title: str) -> None:
    """Recall bars per class (RGB, pose, fused) beside the gain of fusion over the better stream, top = most gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(rows)
    y = np.arange(n)[::-1]  # the first row (largest gain) at the top
    font = max(4.0, min(9.0, 500 / max(n, 1)))
    fig, (bars, gains) = plt.subplots(1, 2, figsize=(11, max(3.5, 0.32 * n + 1.5)), sharey=True,
                                      gridspec_kw={"width_ratios": [3, 1]}, dpi=100 if n <= 30 else 150)
    height = 0.8 / 3
    for i, (field, label, colour) in enumerate((("rgb", "RGB", "C0"), ("pose", "keypoints", "C1"),
                                                ("fused", "fused", "C2"))):
        bars.barh(y + (1 - i) * height, [getattr(r, field) for r in rows], height, label=label, color=colour)
    bars.set(xlim=(0, 1), xlabel="recall (share of the class's test videos recognised)")
    bars.set_yticks(y, [f"{r.name} ({r.support})" for r in rows], fontsize=font)
    bars.legend(loc="lower right", fontsize=8)
    gain = [r.gain for r in rows]
    gains.barh(y, gain, 0.6, color=["C2" if g > 0 else "C3" if g < 0 else "0.6" for g in gain])
    gains.axvline(0, color="black", linewidth=0.8)
    limit = max(0.05, *(abs(g) for g in gain)) * 1.1
    gains.set(xlim=(-limit, limit), xlabel="fused − better stream")
    for ax in (bars, gains):
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
