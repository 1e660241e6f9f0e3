"""Where the live demo's output goes: an annotated video (finalised even on error), a JSON-lines prediction log
and an OpenCV window."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any, Sequence

import cv2
import numpy as np

from twostream.errors import TwostreamError
from twostream.fusion.live.overlay import top_k


class AnnotatedWriter:
    """``cv2.VideoWriter`` (mp4v) into a hidden temp name, renamed onto ``path`` on ``close()``.

    Used as a context manager, the file is released and renamed on success, error or Ctrl-C alike, so
    ``path`` is always a finished, playable video. Nothing is left behind if no frame was written.
    """

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            raise ValueError(f"--output must end in .mp4 (mp4v codec), got {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.fps = fps
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame; the size is fixed by the first."""
        if self._writer is None:
            height, width = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._writer.isOpened():
                raise TwostreamError(f"OpenCV cannot write {self.path}: check the folder is writable")
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        os.replace(self._tmp, self.path)

    def __enter__(self) -> AnnotatedWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PredictionLog:
    """One JSON object per line and per prediction, flushed as written (``tail -f`` friendly)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def prediction_record(result, classes: Sequence[str], k: int = 5) -> dict[str, Any]:
    """One log line for a ``fusion.live.records.LivePrediction``: the window's last and first frame, its capture time
    (perf_counter s), latency, the fused top-k, the fused vector (smoothed and raw) and each stream's full
    probability vector (class order as in ``classes``); ``persons``: one entry per tracked person in the window
    (slot, tracker id, box x0 y0 x1 y1 normalised at the window's last frame, their fused top-k, per-stream
    vectors — the RGB one is the scene's, shared — and the share of frames they were seen in)."""
    return {
        "frame": result.frame_index,
        "window": [result.first_frame, result.frame_index],
        "time": round(result.timestamp, 4),
        "latency_ms": round(result.latency_ms, 2),
        "top5": [[name, round(score, 6)] for name, score in top_k(result.fused, classes, k)],
        "fused": result.fused.tolist(),
        "fused_raw": result.fused_raw.tolist(),
        "per_stream": {name: p.tolist() for name, p in result.per_stream.items()},
        "pose_detected_fraction": result.detected_fraction,
        "persons": [{"slot": person.slot, "id": person.track_id, "box": [round(v, 4) for v in person.box],
                     "top5": [[name, round(score, 6)] for name, score in top_k(person.fused, classes, k)],
                     "per_stream": {name: p.tolist() for name, p in person.per_stream.items()},
                     "detected_fraction": round(person.detected_fraction, 4)} for person in result.persons],
    }


def display_available() -> bool:
    """Whether an OpenCV window can open here (an X11 / Wayland session on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """An OpenCV window; ``show`` returns the key pressed (``-1`` for none)."""

    NAME = "twostream live (q: quit, p: pause)"

    def __init__(self) -> None:
        if not display_available():
            raise TwostreamError("no display available for the live window; run headless with "
                                 "--no-window --output annotated.mp4 (and/or --log preds.jsonl)")
        try:
            cv2.namedWindow(self.NAME, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise TwostreamError(f"cannot open a window ({exc.err}); run with --no-window --output annotated.mp4") \
                from None

    def show(self, frame: np.ndarray) -> int:
        cv2.imshow(self.NAME, frame)
        return cv2.waitKey(1) & 0xFF

    def close(self) -> None:
        cv2.destroyWindow(self.NAME)
        cv2.waitKey(1)

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
