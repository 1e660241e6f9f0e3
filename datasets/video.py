"""Video decoding with OpenCV: probe a file, read chosen frames as RGB uint8, iterate frames.

OpenCV's sequential ``grab``/``retrieve`` is the decoder (see ``bench/decode.py``): every frame is decoded in
order, but only the wanted ones are converted to RGB and copied. Seeking (``CAP_PROP_POS_FRAMES``) is avoided
because it is frame-inaccurate for many codecs. Container frame counts can lie (variable frame rate, truncated
files): readers clamp to the frames actually decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import cv2
import numpy as np

from twostream.errors import VideoReadError


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (``num_frames`` may over-count; readers clamp)."""

    path: Path
    num_frames: int
    """Frame count reported by the container, or counted by decoding when it reports none."""
    fps: float
    """Frames per second; 0.0 when the container does not say."""
    width: int
    height: int


class Clip(NamedTuple):
    frames: np.ndarray
    """(N, H, W, 3) uint8 RGB."""
    indices: np.ndarray
    """(N,) int64 frame indices actually returned (requested indices clamped to the last decoded frame)."""


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video not found: {path} (check the path)")
    if path.stat().st_size == 0:
        raise VideoReadError(f"video is empty (0 bytes): {path}; re-download or remove it")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(f"cannot open video {path}: corrupt or unsupported format; re-encode or remove it")
    return capture


def _no_frames(path: str | Path) -> VideoReadError:
    return VideoReadError(f"no frame could be decoded from {path}: truncated or corrupt; re-encode or remove it")


def probe(path: str | Path) -> VideoInfo:
    """Open ``path`` and decode its first frame; raises ``VideoReadError`` if that fails."""
    capture = _open(path)
    try:
        num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        ok, frame = capture.read()
        if not ok or frame is None:
            raise _no_frames(path)
        height, width = frame.shape[:2]
        if num_frames <= 0:  # some containers (raw streams, webm) do not store a count: count by decoding
            num_frames = 1
            while capture.grab():
                num_frames += 1
    finally:
        capture.release()
    return VideoInfo(Path(path), num_frames, fps, width, height)


def _decode(path: str | Path, keep: set[int] | None, stop: int | None) -> tuple[dict[int, np.ndarray], int]:
    """Grab frames 0..``stop`` (or to the end), converting only those in ``keep``; returns them and the count."""
    capture = _open(path)
    kept: dict[int, np.ndarray] = {}
    decoded = 0
    try:
        while (stop is None or decoded <= stop) and capture.grab():
            if keep is None or decoded in keep:
                ok, frame = capture.retrieve()
                if not ok:
                    break
                kept[decoded] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)  # (H, W, 3) RGB
            decoded += 1
    finally:
        capture.release()
    return kept, decoded


def read_clip(path: str | Path, indices: Sequence[int] | np.ndarray | None = None) -> Clip:
    """Decode ``path`` once, front to back, keeping the frames at ``indices`` (any order, repeats allowed).

    ``indices=None`` keeps every frame. An index past the last decodable frame is clamped to it, and the clamped
    indices are returned so that callers (keypoints) can use the same frames.
    """
    wanted = None if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    if wanted is not None and wanted.size and wanted.min() < 0:
        raise ValueError(f"frame indices must be >= 0, got {int(wanted.min())} for {path}")
    if wanted is None:
        kept, decoded = _decode(path, None, None)
        wanted = np.arange(decoded, dtype=np.int64)
    else:
        kept, decoded = _decode(path, set(wanted.tolist()), int(wanted.max()) if wanted.size else 0)
        wanted = np.minimum(wanted, decoded - 1)
        missing = set(wanted.tolist()) - kept.keys()
        if decoded and missing:  # the container's count lied: fetch the last real frame in a second pass
            kept.update(_decode(path, missing, max(missing))[0])
    if decoded == 0 or not set(wanted.tolist()) <= kept.keys():
        raise _no_frames(path)
    if not wanted.size:
        return Clip(np.zeros((0, 0, 0, 3), np.uint8), wanted)
    return Clip(np.stack([kept[i] for i in wanted.tolist()]), wanted)  # (N, H, W, 3)


def read_frames(path: str | Path, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Frames at ``indices`` (all when ``None``) as (N, H, W, 3) uint8 RGB; see ``read_clip``."""
    return read_clip(path, indices).frames


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield every frame of ``path`` as (H, W, 3) uint8 RGB; ``VideoReadError`` if none decodes."""
    capture = _open(path)
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise _no_frames(path)
