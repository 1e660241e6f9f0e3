"""Classification metrics over evaluation outputs (scikit-learn), and the confusion matrix as CSV and PNG."""

from __future__ import annotations

import csv
import io
import os
from typing import Any, Sequence

import numpy as np
from sklearn import metrics as skm

from twostream.streams.checkpoint import atomic_path, write_text


def video_level(probs: np.ndarray, labels: np.ndarray, video_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average the clips' softmax per video: (N_clips, C) → (N_videos, C) and the videos' labels."""
    videos, inverse = np.unique(video_index, return_inverse=True)
    sums = np.zeros((len(videos), probs.shape[1]), np.float64)
    np.add.at(sums, inverse, probs)  # (N_videos, C)
    counts = np.bincount(inverse, minlength=len(videos))[:, None]
    vlabels = np.zeros(len(videos), labels.dtype)
    vlabels[inverse] = labels
    return sums / counts, vlabels


def top_k(probs: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores (1.0 when there are ≤ k classes)."""
    if probs.shape[1] <= k:
        return 1.0
    return float(skm.top_k_accuracy_score(labels, probs, k=k, labels=np.arange(probs.shape[1])))


def summarise(probs: np.ndarray, labels: np.ndarray, video_index: np.ndarray,
              classes: Sequence[str]) -> dict[str, Any]:
    """Clip-level accuracy, top-5, macro F1, mean class accuracy, per-class report, the most confused class
    pairs (``confused_pairs``); video-level accuracy."""
    preds = probs.argmax(1)
    every = np.arange(len(classes))
    cm = skm.confusion_matrix(labels, preds, labels=every)
    present = cm.sum(1) > 0
    per_class_acc = np.diag(cm)[present] / cm.sum(1)[present]
    p, r, f, s = skm.precision_recall_fscore_support(labels, preds, labels=every, zero_division=0)
    vprobs, vlabels = video_level(probs, labels, video_index)
    return {
        "accuracy": float(skm.accuracy_score(labels, preds)),
        "top5": top_k(probs, labels, 5),
        "macro_f1": float(skm.f1_score(labels, preds, labels=every[present], average="macro", zero_division=0)),
        "mean_class_accuracy": float(per_class_acc.mean()) if present.any() else 0.0,
        "video_accuracy": float((vprobs.argmax(1) == vlabels).mean()),
        "num_videos": int(len(vlabels)),
        "num_clips": int(len(labels)),
        "per_class": {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                             "support": int(s[i])} for i, name in enumerate(classes)},
        "confused_pairs": confused_pairs(cm, classes),
    }


def confused_pairs(cm: np.ndarray, classes: Sequence[str], k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells of a (C, C) count matrix (row = true class), most clips first:
    ``{"true", "predicted", "count", "share"}``, share = of the true class's clips; empty cells are left out."""
    off = cm.astype(np.int64).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]  # row-major: ties keep the class order
    rows = cm.sum(1)
    return [{"true": classes[t], "predicted": classes[p], "count": int(off[t, p]), "share": float(off[t, p] / rows[t])}
            for t, p in zip(*np.unravel_index(order, off.shape)) if off[t, p] > 0]


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int counts: row = true class, column = predicted class."""
    return skm.confusion_matrix(labels, preds, labels=np.arange(num_classes))


def write_confusion_csv(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike) -> None:
    """Header ``true\\predicted,<classes…>``, then one row per true class."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["true\\predicted", *classes])
    for name, row in zip(classes, cm):
        writer.writerow([name, *map(int, row)])
    write_text(path, buf.getvalue())


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike) -> None:
    """Row-normalised confusion matrix PNG; the figure and tick font scale with the class count (101 stays legible)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    side = min(40.0, max(5.0, 0.22 * n + 3))
    font = max(3.0, min(10.0, 400 / max(n, 1)))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)  # each true class sums to 1
    fig, ax = plt.subplots(figsize=(side, side), dpi=100 if n <= 30 else 150)
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=font)
    ax.set_yticks(range(n), classes, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
