"""Frame sources for the live demo: a webcam index, a video file (played at its own fps, or as fast as possible)
or a stream URL, and the capture thread that hands the newest frame on through a ``LatestSlot``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from twostream.errors import VideoReadError
from twostream.fusion.live.buffers import LatestSlot

_URL_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class Frame(NamedTuple):
    index: int  # 0-based count of frames read from the source (keeps counting across --loop)
    image: np.ndarray  # (H, W, 3) uint8 BGR, as OpenCV decodes it
    timestamp: float  # time.perf_counter() when the frame was read: the start of its latency


def parse_source(source: str | int) -> int | str:
    """``"0"`` → camera 0; a URL stays a string; anything else is a file path (checked to exist)."""
    if isinstance(source, int) or str(source).isdigit():
        return int(source)
    text = str(source)
    if text.lower().startswith(_URL_SCHEMES):
        return text
    if not Path(text).is_file():
        raise FileNotFoundError(f"video source not found: {text}; pass a camera index (--source 0), a file or a URL")
    return text


class FrameSource:
    """One ``cv2.VideoCapture``. A file paces itself to its fps unless ``realtime=False``; ``loop`` rewinds it."""

    def __init__(self, source: str | int, *, loop: bool = False, realtime: bool = True):
        self.source = parse_source(source)
        self.is_file = isinstance(self.source, str) and not self.source.lower().startswith(_URL_SCHEMES)
        self.loop, self.realtime = loop, realtime and self.is_file
        self._cap = cv2.VideoCapture(self.source)
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoReadError(self._cannot_open())
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self._count = 0
        self._start = time.perf_counter()

    def _cannot_open(self) -> str:
        if isinstance(self.source, int):
            return (f"cannot open camera {self.source}: is it plugged in and not used by another program? "
                    f"try another index (--source 1) or a video file (--source clip.mp4)")
        return f"cannot open video source {self.source}: not a readable video or stream; check the path / URL"

    def read(self) -> Frame | None:
        """The next frame, or ``None`` at the end of a file. A camera or stream that stops → ``VideoReadError``."""
        ok, image = self._cap.read()
        if not ok and self.is_file and self.loop and self._count > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok:
            if self.is_file:
                if self._count == 0:
                    raise VideoReadError(f"no frame could be decoded from {self.source}; is it an empty video?")
                return None
            raise VideoReadError(f"video source {self.source} stopped delivering frames (unplugged or closed?)")
        if self.realtime:  # play a file like a camera: frame n is due n / fps seconds after the start
            delay = self._start + self._count / self.fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        frame = Frame(self._count, image, time.perf_counter())
        self._count += 1
        return frame

    def hold(self, seconds: float) -> None:
        """Move the playback clock on by ``seconds`` (time spent paused does not count)."""
        self._start += seconds

    def release(self) -> None:
        self._cap.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class CaptureThread(threading.Thread):
    """Reads ``source`` into ``slot`` until the end, ``max_frames`` or ``stop()``; an error is kept in ``.error``.

    The slot holds one frame: if the consumer is still busy, the next frame overwrites it (a dropped frame) —
    unless the source is a file read as fast as possible (``realtime=False``): then there is no clock to keep up
    with, and the thread waits for each frame to be taken instead (every frame processed, none dropped).
    """

    def __init__(self, source: FrameSource, slot: LatestSlot[Frame], max_frames: int | None = None):
        super().__init__(name="twostream-capture", daemon=True)
        self.source, self.slot, self.max_frames = source, slot, max_frames
        self.lossless = source.is_file and not source.realtime
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.paused = threading.Event()
        self._stop_requested = threading.Event()

    def run(self) -> None:
        try:
            read = 0
            while not self._stop_requested.is_set() and (self.max_frames is None or read < self.max_frames):
                if self.paused.is_set() and self.source.is_file:
                    time.sleep(0.02)
                    self.source.hold(0.02)  # a paused file resumes where it stopped, without a burst
                    continue
                frame = self.source.read()
                if frame is None:
                    break
                while self.lossless and not self.slot.wait_taken(0.1):
                    if self._stop_requested.is_set():
                        return
                if not self.paused.is_set():
                    self.slot.put(frame)
                read += 1
        except BaseException as exc:  # handed to the main thread, which reports it after a clean shutdown
            self.error = exc
        finally:
            self.finished.set()
            self.slot.wake()

    def stop(self) -> None:
        self._stop_requested.set()
