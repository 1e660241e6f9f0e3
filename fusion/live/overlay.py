"""The live demo's annotated frame: the video (upscaled to a readable size) with the skeleton drawn on it, and a
side panel beside it — never on top of the actor — with the fused top-5 as bars, each stream's top-1 and the
rates (fps, predictions/s, latency, person found).

All sizes follow the canvas height, so a 160×120 cartoon and a 1080p camera read the same.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import cv2
import numpy as np

from twostream.pose.skeleton import JointLayout

MIN_DISPLAY_HEIGHT = 360
"""Smaller videos are upscaled to this height (pixels) before drawing, so text and skeleton stay legible."""
PANEL_RATIO = 0.8
"""Side panel width as a share of the canvas height."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _GREY, _BACK, _TRACK, _BAR = (255, 255, 255), (190, 190, 190), (28, 28, 28), (70, 70, 70), (50, 150, 60)


class Canvas(NamedTuple):
    """Geometry of the annotated frame for an input of a given size (all in pixels)."""

    video_width: int  # the video area, left
    height: int  # of the video area and of the whole canvas
    panel_width: int  # the side panel, right of the video

    @property
    def width(self) -> int:
        return self.video_width + self.panel_width

    @property
    def unit(self) -> float:
        """Text and line scale: 1.0 at ``MIN_DISPLAY_HEIGHT``."""
        return self.height / MIN_DISPLAY_HEIGHT


def canvas_for(height: int, width: int, min_height: int = MIN_DISPLAY_HEIGHT) -> Canvas:
    """The canvas for an ``(height, width)`` input: upscaled (never down) to ``min_height``, even sizes (codecs)."""
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    scale = max(1.0, min_height / height)
    out_h = 2 * round(height * scale / 2)
    return Canvas(2 * round(width * scale / 2), out_h, 2 * round(out_h * PANEL_RATIO / 2))


def top_k(scores: np.ndarray, classes: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` best ``(class, score)`` pairs of a (C,) score vector, best first."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [(classes[i], float(scores[i])) for i in order]


class PersonLabel(NamedTuple):
    """One tracked person on the annotated frame: skeleton and label in the person's colour."""

    keypoints: np.ndarray  # (V, 4), x, y normalised to the frame
    text: str  # e.g. "#3 wave_right 0.82"; "" draws the skeleton only
    colour: tuple[int, int, int]  # BGR


def draw_overlay(
    frame: np.ndarray,
    *,
    keypoints: np.ndarray | None = None,
    layout: JointLayout | None = None,
    persons: Sequence[PersonLabel] = (),
    fused: Sequence[tuple[str, float]] = (),
    streams: Mapping[str, tuple[str, float]] | None = None,
    status: Sequence[str] = (),
    min_height: int = MIN_DISPLAY_HEIGHT,
) -> np.ndarray:
    """The annotated canvas for one BGR uint8 (H, W, 3) frame (``frame`` itself is not changed).

    Returns (Hc, Wc + P, 3): the frame resized to ``canvas_for(H, W)`` with the skeleton (``keypoints`` (V, 4),
    x, y normalised to the frame, in ``layout``) drawn at that size — or, with ``persons``, each person's
    skeleton and label (beside the person's box) in the person's colour — and a panel of width P on the right
    with ``fused`` (top-k ``(class, score)`` pairs, as bars), ``streams`` (each stream's top-1) and ``status``.
    """
    canvas = canvas_for(*frame.shape[:2], min_height=min_height)
    out = np.empty((canvas.height, canvas.width, 3), np.uint8)
    video = out[:, :canvas.video_width]
    video[...] = cv2.resize(frame, (canvas.video_width, canvas.height), interpolation=cv2.INTER_LINEAR)
    if layout is not None:
        from twostream.pose.draw import draw_skeleton

        if keypoints is not None and np.any(keypoints[:, :2]):
            draw_skeleton(video, keypoints, layout, inplace=True)
        for person in persons:
            if np.any(person.keypoints[:, :2]):
                draw_skeleton(video, person.keypoints, layout, inplace=True, colour=person.colour)
        for person in persons:
            if person.text and np.any(person.keypoints[:, :2]):
                _person_label(video, person, canvas.unit)
    _draw_panel(out[:, canvas.video_width:], canvas.unit, fused, streams or {}, status)
    return out


def _person_label(video: np.ndarray, person: PersonLabel, unit: float) -> None:
    """``person.text`` on a tag of the person's colour just above their box (inside the frame), dark text."""
    height, width = video.shape[:2]
    seen = person.keypoints[np.any(person.keypoints[:, :2] != 0, axis=1), :2] * (width, height)  # (n, 2) pixels
    x0, y0 = seen.min(axis=0)
    scale, thickness = 0.5 * unit, max(1, round(unit))
    (tw, th), base = cv2.getTextSize(person.text, _FONT, scale, thickness)
    pad = round(3 * unit)
    left = int(np.clip(x0, 0, max(0, width - tw - 2 * pad)))
    top = int(np.clip(y0 - th - base - 2 * pad - round(4 * unit), 0, max(0, height - th - base - 2 * pad)))
    cv2.rectangle(video, (left, top), (left + tw + 2 * pad, top + th + base + 2 * pad), person.colour, -1)
    cv2.putText(video, person.text, (left + pad, top + pad + th), _FONT, scale, _BACK, thickness, cv2.LINE_AA)


def _draw_panel(panel: np.ndarray, unit: float, fused: Sequence[tuple[str, float]],
                streams: Mapping[str, tuple[str, float]], status: Sequence[str]) -> None:
    """Fill the (H, P, 3) ``panel`` view: a heading and a row per item, sized by ``unit``."""
    panel[...] = _BACK
    width = panel.shape[1]
    pad, row = round(8 * unit), round(24 * unit)
    y = pad
    y = _heading(panel, "fused top-5", y, unit) if fused else y
    for name, score in fused:
        _bar(panel, name, score, (pad, y, width - 2 * pad, row - round(4 * unit)), unit)
        y += row
    if streams:
        y = _heading(panel, "each stream", y + round(4 * unit), unit)
        for stream, (name, score) in streams.items():
            _text(panel, f"{stream}: {name}", (pad, y + round(17 * unit)), unit, _WHITE, width - pad - round(48 * unit))
            _text(panel, f"{score:.2f}", (width - pad - round(40 * unit), y + round(17 * unit)), unit, _WHITE)
            y += row
    if status:
        y = _heading(panel, "live", y + round(4 * unit), unit)
        for line in status:
            _text(panel, line, (pad, y + round(17 * unit)), unit, _GREY, width - 2 * pad)
            y += row


def _heading(panel: np.ndarray, title: str, y: int, unit: float) -> int:
    """A small grey title with a rule under it; returns the y where its rows start."""
    pad = round(8 * unit)
    _text(panel, title, (pad, y + round(14 * unit)), unit * 0.85, _GREY)
    rule = y + round(20 * unit)
    cv2.line(panel, (pad, rule), (panel.shape[1] - pad, rule), _TRACK, max(1, round(unit)))
    return rule + round(4 * unit)


def _bar(panel: np.ndarray, name: str, score: float, box: tuple[int, int, int, int], unit: float) -> None:
    """A track filled in proportion to ``score`` (0..1), the class name on the left, the score on the right."""
    x, y, w, h = box
    cv2.rectangle(panel, (x, y), (x + w, y + h), _TRACK, -1)
    cv2.rectangle(panel, (x, y), (x + round(w * min(max(score, 0.0), 1.0)), y + h), _BAR, -1)
    baseline = y + h - round(5 * unit)
    score_x = x + w - round(40 * unit)
    _text(panel, name, (x + round(4 * unit), baseline), unit, _WHITE, score_x - x - round(8 * unit))
    _text(panel, f"{score:.2f}", (score_x, baseline), unit, _WHITE)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], unit: float, colour: tuple[int, int, int],
          max_width: int | None = None) -> None:
    """``text`` at font size ``unit`` (0.45 at the minimum height), cut (ending in '.') to fit ``max_width`` pixels."""
    scale, thickness = 0.45 * unit, max(1, round(unit))
    if max_width is not None:
        fitted = text
        while len(fitted) > 1 and cv2.getTextSize(fitted, _FONT, scale, thickness)[0][0] > max_width:
            fitted = fitted[:-1]
        text = fitted if fitted == text else fitted[:-1] + "."
    cv2.putText(image, text, origin, _FONT, scale, colour, thickness, cv2.LINE_AA)
