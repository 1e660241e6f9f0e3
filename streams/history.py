"""A training run's per-epoch record: ``history.csv``, which epoch ``best.pt`` holds, and ``curves.png``.

One row per epoch: ``epoch, lr, train_loss, train_acc, val_loss, val_acc, clips_per_s, seconds`` (the ``val_``
columns only when the run had validation clips).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Mapping, Sequence

from twostream.streams.checkpoint import atomic_path, write_text

Row = Mapping[str, float]


def write_history(path: str | os.PathLike, history: Sequence[Row]) -> None:
    """``history.csv``, written atomically, one row per epoch in the order given."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def read_history(path: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a ``history.csv`` as floats (``epoch`` as int); empty cells are left out."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
    for row in rows:
        row["epoch"] = int(row["epoch"])
    return rows


def selection_key(row: Row) -> tuple[float, float]:
    """How ``best.pt`` is chosen: validation accuracy, then lower validation loss (training's without validation)."""
    if "val_acc" in row:
        return row["val_acc"], -row["val_loss"]
    return row["train_acc"], -row["train_loss"]


def best_epoch(history: Sequence[Row]) -> int:
    """The epoch ``best.pt`` holds: the first with the highest ``selection_key`` (0 for an empty history)."""
    if not history:
        return 0
    return int(max(history, key=selection_key)["epoch"])  # max keeps the first of equal keys, as the loop does


def plot_curves(runs: Mapping[str, Sequence[Row]], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """``curves.png``: loss (left) and accuracy (right) per epoch, training solid, validation dashed, one colour
    per run of ``runs`` (label → history); each run's best epoch is marked with a star on its selection curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for i, (label, history) in enumerate(runs.items()):
        colour = f"C{i % 10}"
        epochs = [row["epoch"] for row in history]
        prefix = f"{label}: " if len(runs) > 1 else ""
        for ax, metric in ((loss_ax, "loss"), (acc_ax, "acc")):
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                points = [(e, row[key]) for e, row in zip(epochs, history) if key in row]
                if points:
                    ax.plot(*zip(*points), style, marker="o", markersize=3, color=colour,
                            label=f"{prefix}{'validation' if split == 'val' else 'training'}")
        best = best_epoch(history)
        if best:
            row = history[epochs.index(best)]
            split = "val" if "val_acc" in row else "train"
            acc_ax.plot([best], [row[f"{split}_acc"]], "*", markersize=14, color=colour, markeredgecolor="black",
                        label=f"{prefix}best epoch {best} ({row[f'{split}_acc']:.3f})")
            loss_ax.axvline(best, color=colour, linestyle=":", linewidth=1)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="clip accuracy", title="accuracy", ylim=(0, 1.02))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
