"""The live demo's annotation: the skeleton, the fused top-5 with bars, each stream's top-1 and the rates."""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

from twostream.pose.skeleton import JointLayout

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _GREY, _BAR, _DIM = (255, 255, 255), (200, 200, 200), (60, 200, 90), (30, 30, 30)


def top_k(scores: np.ndarray, classes: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` best ``(class, score)`` pairs of a (C,) score vector, best first."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [(classes[i], float(scores[i])) for i in order]


def draw_overlay(
    frame: np.ndarray,
    *,
    keypoints: np.ndarray | None = None,
    layout: JointLayout | None = None,
    fused: Sequence[tuple[str, float]] = (),
    streams: Mapping[str, tuple[str, float]] | None = None,
    status: Sequence[str] = (),
) -> np.ndarray:
    """Annotate a BGR uint8 (H, W, 3) frame in place and return it.

    ``keypoints`` (V, 4) normalised landmarks in ``layout``; ``fused`` the top-k ``(class, score)`` pairs,
    drawn as bars; ``streams`` each stream's top-1; ``status`` short lines (rates, latency, warm-up).
    """
    if keypoints is not None and layout is not None and np.any(keypoints[:, :2]):
        from twostream.pose.draw import draw_skeleton

        draw_skeleton(frame, keypoints, layout, inplace=True)
    height, width = frame.shape[:2]
    scale = float(np.clip(width / 900, 0.3, 0.6))
    line = max(8, int(32 * scale))
    lines = len(fused) + len(streams or {}) + len(status)
    if lines == 0:
        return frame
    panel_w, panel_h = min(width, int(520 * scale) + 10), min(height, line * lines + line // 2)
    region = frame[:panel_h, :panel_w]
    region[...] = (region * 0.35).astype(np.uint8)  # darken behind the text so it reads on any scene
    y = line
    bar_x, bar_w = int(250 * scale), int(200 * scale)
    for name, score in fused:
        _text(frame, f"{name[:18]}", (4, y), scale, _WHITE)
        top_left = (bar_x, y - int(line * 0.6))
        cv2.rectangle(frame, top_left, (bar_x + bar_w, y), _DIM, -1)
        cv2.rectangle(frame, top_left, (bar_x + int(bar_w * min(max(score, 0.0), 1.0)), y), _BAR, -1)
        _text(frame, f"{score:.2f}", (bar_x + bar_w + 4, y), scale, _WHITE)
        y += line
    for stream, (name, score) in (streams or {}).items():
        _text(frame, f"{stream}: {name[:18]} {score:.2f}", (4, y), scale, _GREY)
        y += line
    for text in status:
        _text(frame, text, (4, y), scale, _GREY)
        y += line
    return frame


def _text(frame: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int]) -> None:
    cv2.putText(frame, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)
