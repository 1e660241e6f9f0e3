"""Presentation, the live engine's last stage: each frame's annotated canvas (skeletons, a label beside each
person in their colour, the side panel) out to the video file and the window."""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np

from twostream.fusion.live.overlay import PersonLabel, draw_overlay, top_k
from twostream.fusion.live.records import LivePrediction, LiveStats
from twostream.pose.skeleton import MEDIAPIPE_33

_QUIT_KEYS, _PAUSE_KEY = (ord("q"), 27), ord("p")


class _Written(NamedTuple):
    index: int
    image: np.ndarray


class Presenter:
    """Draws frames for a run of ``classes``; writes them (filling dropped frames) and shows them."""

    def __init__(self, classes: list[str]):
        self.classes = classes
        self._last_written: _Written | None = None

    def annotate(self, image: np.ndarray, landmarks: np.ndarray | None, result: LivePrediction | None,
                 stats: LiveStats, spans: dict[str, float]) -> np.ndarray:
        """The annotated canvas (``overlay.draw_overlay``) for one BGR frame and its persons' (M, V, 4) landmarks
        (None: no pose): each person's skeleton and latest label beside them in the person's colour; ``spans``:
        each stream's window in seconds."""
        status = [f"{stats.fps:.1f} fps   {stats.prediction_hz:.1f} pred/s",
                  "span " + "  ".join(f"{k} {v:.2f} s" for k, v in spans.items())]
        if result is None:
            status.append("filling buffers ...")
            fused, streams = [], {}
        else:
            status.append(f"latency {result.latency_ms:.0f} ms")
            fused = top_k(result.fused, self.classes, 5)
            streams = {k: top_k(v, self.classes, 1)[0] for k, v in result.per_stream.items()}
        if landmarks is not None:
            clip = "" if result is None or result.detected_fraction is None else \
                f"   (last clip {result.detected_fraction:.0%})"
            status.append(f"person: {'yes' if np.any(landmarks) else 'no'}{clip}")
        return draw_overlay(image, layout=MEDIAPIPE_33, persons=self._labels(landmarks, result), fused=fused,
                            streams=streams, status=status)

    def _labels(self, landmarks: np.ndarray | None, result: LivePrediction | None) -> list[PersonLabel]:
        """One label per person in this frame: their slot's latest answer (top-1 and score), in the slot's colour."""
        from twostream.pose.draw import PERSON_COLOURS

        if landmarks is None:
            return []
        answers = {p.slot: p for p in result.persons} if result is not None else {}
        labels = []
        for slot, keypoints in enumerate(landmarks):
            text = ""
            if slot in answers:
                name, score = top_k(answers[slot].fused, self.classes, 1)[0]
                text = f"#{answers[slot].track_id} {name} {score:.2f}"
            labels.append(PersonLabel(keypoints, text, PERSON_COLOURS[slot % len(PERSON_COLOURS)]))
        return labels

    def write(self, writer, index: int, image: np.ndarray) -> None:
        """Write ``image`` as frame ``index``; frames dropped since the last one written are filled with the
        previous image (what a viewer saw meanwhile), so the video keeps one frame per source frame and its time."""
        previous = self._last_written or _Written(-1, image)  # frames dropped before the first: this one
        for _ in range(index - previous.index - 1):
            writer.write(previous.image)
        writer.write(image)
        self._last_written = _Written(index, image)

    @staticmethod
    def show(window, image: np.ndarray, pause: Callable[[bool], None]) -> bool:
        """Show ``image``; ``p`` pauses (``pause(True)``) until ``p`` again; False when the user quits."""
        key = window.show(image)
        if key == _PAUSE_KEY:
            pause(True)
            while (key := window.show(image)) not in (_PAUSE_KEY, *_QUIT_KEYS):
                time.sleep(0.02)
            pause(False)
        return key not in _QUIT_KEYS
