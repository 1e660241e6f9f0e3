"""The live fused demo's engine: capture thread → ingest (pose on every frame, two ring buffers) → scheduling
(a window due on a stride) → inference (a label per person, smoothed) → presentation (annotated frame to the
window and the video file) and a JSON-lines log (``on_prediction``).

Each stage is its own module (``ingest``, ``scheduling``, ``inference``, ``presentation``); this one wires them.
Threaded (a camera, a stream, a file played in real time): capture, pose dispatch, ingest (tracking + buffers),
inference and presentation (this thread: a window must be drawn from the main thread) run in their own threads
that hand over through single-value ``LatestSlot``s (but for the lanes' results, in order, at most ``pose_lanes``
of them), so a slow stage makes the one before it drop (counted), never queue, and drawing one frame overlaps
pose on the next. Dispatch deals frames to ``pose_lanes`` pose
estimators working side by side (``ingest.PoseLanes``) and takes a frame only when a lane is free; ingest takes
their results in frame order. ``deterministic`` (files only): every frame in order, inference inline on exactly every
``stride``-th frame, so the logged scores are reproducible and equal the offline prediction on the same frames.
A source that ends before any window was due (a file shorter than the run's window) gets one answer at its end,
on the frames evaluation would pick in a video that short (``Sampling.short_picks``; a frame-wise stream, which
keeps only its sampling lattice, takes the nearest kept frame).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

import numpy as np

from twostream.fusion.live.buffers import DualFrameBuffer, LatestSlot, Snapshot
from twostream.fusion.live.capture import CaptureThread, Frame, FrameSource
from twostream.fusion.live.inference import Inference
from twostream.fusion.live.ingest import Ingest, Posed
from twostream.fusion.live.presentation import Presenter
from twostream.fusion.live.records import LiveConfig, LivePrediction, LiveStats, Predictor
from twostream.fusion.live.scheduling import Schedule, Worker


class _Ingested(NamedTuple):
    frame: Frame
    landmarks: np.ndarray | None  # (M, 33, 4) tracked persons, or None without a pose stream
    ingest_ms: float


class LiveEngine:
    """Runs a predictor over a ``FrameSource``; ``on_prediction`` is called (from the worker) for each result."""

    def __init__(self, predictor: Predictor, config: LiveConfig = LiveConfig(), *, fps: float | None = None,
                 on_prediction: Callable[[LivePrediction], None] | None = None):
        self.predictor, self.config, self.on_prediction = predictor, config, on_prediction
        self.classes = list(predictor.classes)
        self._ingest = Ingest(predictor.specs, config, getattr(predictor, "frame_wise", frozenset()))
        if fps is not None:
            self._ingest.configure(fps)
        self.video_spec, self.keypoint_spec = self._ingest.video_spec, self._ingest.keypoint_spec
        self._inference = Inference(predictor, config)
        self._presenter = Presenter(self.classes)
        self._schedule = Schedule(config)
        self.results: LatestSlot[LivePrediction] = LatestSlot()
        self.stats = LiveStats()
        self._requests: LatestSlot[Snapshot] = LatestSlot()
        self._capture: CaptureThread | None = None
        self._worker: Worker | None = None

    @property
    def buffer(self) -> DualFrameBuffer:
        return self._ingest.buffer

    @property
    def fps(self) -> float | None:
        return self._ingest.fps

    def window_seconds(self) -> dict[str, float]:
        """Seconds each stream's window spans, first pick to last, at the source's fps (or the run's)."""
        return self._ingest.window_seconds()

    def infer(self, snap: Snapshot) -> LivePrediction:
        """Both streams on one snapshot, smoothed over the last ``smooth`` windows."""
        return self._inference(snap, self._ingest.track_ids)

    def annotate(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
        """The annotated canvas for one BGR frame and its persons' (M, V, 4) landmarks (None: no pose)."""
        return self._presenter.annotate(image, landmarks, self.results.peek(), self.stats, self.window_seconds())

    def run(self, source: FrameSource, *, writer=None, window=None) -> LiveStats:
        """Play ``source`` to the end (or ``max_frames``, ``q``); annotated frames go to ``writer`` / ``window``.

        Threads are joined and the writer left to its owner's ``with`` block however the run ends; an error in
        the capture or inference thread is raised here, after the shutdown.
        """
        if self.config.deterministic and not source.is_file:
            raise ValueError("--deterministic needs a video file source (--source clip.mp4), not a camera or URL")
        self._ingest.configure(source.fps)  # fresh buffers on the run's time scale in this source's frames
        if hasattr(self.predictor, "reset"):
            self.predictor.reset()  # frame indices restart: cached per-frame features belong to the last source
        with self._ingest.pose_estimator(1 if self.config.deterministic else self.config.pose_lanes):
            if self.config.deterministic:
                self._run_inline(source, writer, window)
            else:
                self._run_threaded(source, writer, window)
        if self._worker is not None and self._worker.error is not None:
            raise self._worker.error
        if not self.stats.predictions and self.buffer.started:  # a source shorter than the window (or than the
            self._infer_and_publish(self._ingest.last_snapshot())  # time to the first due one) gets one answer
        return self.stats

    def _infer_and_publish(self, snap: Snapshot) -> None:
        start = time.perf_counter()
        result = self.infer(snap)
        self.stats.stage_ms["infer"].append((time.perf_counter() - start) * 1e3)
        self._publish(result)

    def _publish(self, result: LivePrediction) -> None:
        self.results.put(result)
        self.stats.predictions += 1
        self.stats.prediction_times.append(time.perf_counter())
        if self.on_prediction is not None:
            self.on_prediction(result)

    def _run_inline(self, source: FrameSource, writer, window) -> None:
        while self.config.max_frames is None or self.stats.frames < self.config.max_frames:
            frame = source.read()
            if frame is None or not self._present(self._ingest_frame(self._ingest.submit(frame), inline=True),
                                                  writer, window):
                break

    def _run_threaded(self, source: FrameSource, writer, window) -> None:
        frames: LatestSlot[Frame] = LatestSlot()
        posed: LatestSlot[Posed] = LatestSlot(maxlen=None)  # in frame order; the lanes' gate bounds it
        ingested: LatestSlot[_Ingested] = LatestSlot()
        lanes = threading.Semaphore(self.config.pose_lanes)  # frames between taking and their landmarks pushed
        self._capture = capture = CaptureThread(source, frames, self.config.max_frames)
        dispatch = Worker(frames, self._ingest.submit, outputs=posed, upstream_done=capture.finished, gate=lanes,
                          name="twostream-pose")
        ingest = Worker(posed, lambda item: self._ingest_frame(item, inline=False, lanes=lanes), outputs=ingested,
                        upstream_done=dispatch.finished, lossless=capture.lossless, name="twostream-ingest")
        self._worker = worker = Worker(self._requests, self._infer_and_publish, self.config.worker_nice)
        threads = (capture, dispatch, ingest, worker)
        for thread in threads:
            thread.start()
        try:  # this thread presents: drawing frame n overlaps pose on frame n + 1
            while worker.error is None and ingest.error is None:
                item, ended = ingested.take_until(ingest.finished)
                if ended:
                    break
                if item is not None and not self._present(item, writer, window):
                    break
        finally:
            for thread in threads:
                thread.stop()
            for thread in threads:
                thread.join()
            self.stats.dropped = frames.overwritten + ingested.overwritten
            self.stats.skipped_inferences = self._requests.overwritten
        for thread in (capture, dispatch, ingest):
            if thread.error is not None:
                raise thread.error

    def _ingest_frame(self, posed: Posed, *, inline: bool, lanes: threading.Semaphore | None = None) -> _Ingested:
        """One submitted frame (its pose running on a lane) into the buffers and, when a window is due, its
        inference (inline) or its request to the worker; ``lanes`` is released once its landmarks are in."""
        try:
            landmarks = self._ingest.push(posed)
        finally:
            if lanes is not None:
                lanes.release()
        frame, ingest_ms = posed.frame, (time.perf_counter() - posed.started) * 1e3
        if self._schedule.due(frame.index, self.buffer.ready):
            snap = self.buffer.snapshot()
            if inline:
                self._infer_and_publish(snap)
            else:
                self._requests.put(snap)  # the worker takes the newest; an unserved older one is overwritten
        return _Ingested(frame, landmarks, ingest_ms)

    def _present(self, item: _Ingested, writer, window) -> bool:
        """One ingested frame's annotated canvas out to ``writer`` / ``window``; False when the user quits."""
        frame, landmarks = item.frame, item.landmarks
        if landmarks is not None:
            self.stats.person_frames = (self.stats.person_frames or 0) + bool(np.any(landmarks))
        presenting = time.perf_counter()
        image = self.annotate(frame.image, landmarks)
        if writer is not None:
            self._presenter.write(writer, frame.index, image)
        keep_going = self._presenter.show(window, image, self._pause) if window is not None else True
        self.stats.frames += 1
        now = time.perf_counter()
        self.stats.stage_ms["ingest"].append(item.ingest_ms)
        self.stats.stage_ms["present"].append((now - presenting) * 1e3)
        self.stats.frame_times.append(now)
        self.stats.latencies_ms.append((now - frame.timestamp) * 1e3)
        return keep_going

    def _pause(self, paused: bool) -> None:
        if self._capture is not None:
            (self._capture.paused.set if paused else self._capture.paused.clear)()
