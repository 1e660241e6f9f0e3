"""What a user looks at: ``timeline.png`` (class probabilities as a heat strip, detected segments, ground truth)
and the annotated video with the current segment's label."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from twostream.datasets.video import iter_frames
from twostream.fusion.timeline.detection import Detection
from twostream.fusion.timeline.scoring import Timeline
from twostream.streams.checkpoint import atomic_path


def _colours(classes: Sequence[str]):
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return {c: cmap(i % 20) for i, c in enumerate(classes)}


def plot_timeline(timeline: Timeline, classes: Sequence[str], segments: Sequence[Detection], path: str | Path,
                  ground_truth: Sequence[Detection] | None = None, title: str | None = None) -> Path:
    """Write the picture: top, the fused probability of every class over time (rows = classes); below, the
    detected segments (and the ground truth when given) as coloured bars labelled with their class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = _colours(classes)
    lanes = [("detected", segments)] + ([("ground truth", ground_truth)] if ground_truth is not None else [])
    fig, (heat, bars) = plt.subplots(2, 1, figsize=(12, 0.22 * len(classes) + 0.5 * len(lanes) + 1.6),
                                     sharex=True, gridspec_kw={"height_ratios": [len(classes), 1.6 * len(lanes)]})
    image = heat.imshow(timeline.fused.T, aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=1,
                        extent=(0, timeline.duration, len(classes) - 0.5, -0.5))
    heat.set_yticks(range(len(classes)), classes, fontsize=7)
    heat.set_title(title or timeline.video.name, fontsize=9)
    fig.colorbar(image, ax=[heat, bars], fraction=0.02, pad=0.01, label="fused probability")
    for lane, (name, items) in enumerate(lanes):
        for d in items:
            bars.broken_barh([(d.start, d.end - d.start)], (lane - 0.4, 0.8), color=colours.get(d.label, "grey"),
                             alpha=0.5 + 0.5 * min(1.0, d.score))
            bars.text((d.start + d.end) / 2, lane, d.label, ha="center", va="center", fontsize=6, clip_on=True)
    bars.set_yticks(range(len(lanes)), [name for name, _ in lanes], fontsize=8)
    bars.set_ylim(len(lanes) - 0.5, -0.5)
    bars.set_xlim(0, timeline.duration)
    bars.set_xlabel("seconds")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def current_segment(segments: Sequence[Detection], t: float) -> Detection | None:
    """The highest-scoring segment covering time ``t`` (seconds), if any."""
    covering = [d for d in segments if d.start <= t < d.end]
    return max(covering, key=lambda d: d.score) if covering else None


def write_annotated_video(timeline: Timeline, segments: Sequence[Detection], path: str | Path) -> Path:
    """The video with the current segment's label and score (or "no action") and a time bar, as mp4."""
    path = Path(path)
    writer = None
    with atomic_path(path.with_suffix(".mp4")) as tmp:
        tmp_mp4 = tmp.with_suffix(".mp4")  # OpenCV picks the container by the suffix
        try:
            for i, frame in enumerate(iter_frames(timeline.video)):
                t = i / timeline.fps
                if writer is None:
                    height, width = frame.shape[:2]
                    scale = max(1, int(np.ceil(360 / height)))
                    writer = cv2.VideoWriter(str(tmp_mp4), cv2.VideoWriter_fourcc(*"mp4v"), timeline.fps,
                                             (width * scale, height * scale))
                image = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), None, fx=scale, fy=scale,
                                   interpolation=cv2.INTER_NEAREST)
                seg = current_segment(segments, t)
                text = f"{seg.label} {seg.score:.2f}" if seg else "no action"
                cv2.rectangle(image, (0, 0), (image.shape[1], 28), (0, 0, 0), -1)
                cv2.putText(image, f"{t:6.1f}s  {text}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (80, 255, 80) if seg else (200, 200, 200), 1, cv2.LINE_AA)
                bar = int(image.shape[1] * t / max(timeline.duration, 1e-6))
                cv2.rectangle(image, (0, image.shape[0] - 4), (bar, image.shape[0]), (80, 255, 80), -1)
                writer.write(image)
        finally:
            if writer is not None:
                writer.release()
        tmp_mp4.replace(tmp)
    return path.with_suffix(".mp4")
