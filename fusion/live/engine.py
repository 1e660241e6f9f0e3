"""The live fused demo's engine: capture thread → pose on every frame → two ring buffers → inference on a stride
→ smoothed latest result → annotated frame (window, video file) and a JSON-lines log.

Threaded (a camera, a stream, a file played in real time): capture, the per-frame work and inference run in
three threads that hand over through single-value ``LatestSlot``s, so a slow stage makes the one before it drop
(counted), never queue. ``deterministic`` (files only): every frame in order, inference inline on exactly every
``stride``-th frame, so the logged scores are reproducible and equal the offline prediction on the same frames.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

from twostream.errors import CheckpointError
from twostream.fusion.live.buffers import BufferSpec, DualFrameBuffer, LatestSlot, Snapshot
from twostream.fusion.live.capture import CaptureThread, Frame, FrameSource
from twostream.fusion.live.overlay import PersonLabel, draw_overlay, top_k
from twostream.fusion.live.records import LiveConfig, LivePrediction, LiveStats, PersonPrediction, Predictor
from twostream.pose.skeleton import MEDIAPIPE_33

_QUIT_KEYS, _PAUSE_KEY = (ord("q"), 27), ord("p")


class _Written(NamedTuple):
    index: int
    image: np.ndarray


def _buffer_specs(specs: dict[str, Any], fps: float | None, step: int | None,
                  frame_wise: frozenset[str] = frozenset(),
                  persons: int = 1) -> tuple[BufferSpec | None, BufferSpec | None]:
    """Each stream's window from its run's time scale (``InputSpec.sampling.live_window`` at the source's
    ``fps``; ``step`` overrides it): preprocessed (3, S, S) pixels, raw MediaPipe-33 (M, 33, 4) landmarks of
    ``persons`` tracked slots (the
    predictor reduces them to the pose model's layout, as it does offline). Streams in ``frame_wise`` slide on
    their sampling grid, so that each sampled frame's features are computed once."""
    video, keypoints = specs.get("video"), specs.get("keypoints")
    if video is None and keypoints is None:
        raise CheckpointError(f"the run has no 'video' or 'keypoints' stream (specs: {sorted(specs)})")

    def spec(stream, item_shape: tuple[int, ...]) -> BufferSpec | None:
        if stream is None:
            return None
        window = stream.sampling.live_window(stream.clip_len, fps, step)
        return BufferSpec(item_shape, tuple(int(o) for o in window.offsets), window.length,
                          grid=stream.key in frame_wise)

    return (spec(video, (3, video.size, video.size) if video else ()),
            spec(keypoints, (persons, MEDIAPIPE_33.num_joints, 4)))


class LiveEngine:
    """Runs a predictor over a ``FrameSource``; ``on_prediction`` is called (from the worker) for each result."""

    def __init__(self, predictor: Predictor, config: LiveConfig = LiveConfig(), *, fps: float | None = None,
                 on_prediction: Callable[[LivePrediction], None] | None = None):
        self.predictor, self.config, self.on_prediction = predictor, config, on_prediction
        self.classes = list(predictor.classes)
        self.video_spec, self.keypoint_spec = predictor.specs.get("video"), predictor.specs.get("keypoints")
        self._configure(fps)
        if self.keypoint_spec is not None:  # fail now, not in the worker, if MediaPipe-33 cannot feed the model
            from twostream.streams.keypoint_data import to_layout

            to_layout(np.zeros((MEDIAPIPE_33.num_joints, 4), np.float32), self.keypoint_spec.layout)
        self.results: LatestSlot[LivePrediction] = LatestSlot()
        self.stats = LiveStats()
        self._requests: LatestSlot[Snapshot] = LatestSlot()
        self._history: deque[np.ndarray] = deque(maxlen=config.smooth)
        self._person_history: dict[tuple[int, int], deque[np.ndarray]] = {}  # (slot, track id) → last answers
        self._track_ids = np.full(config.pose.persons, -1)
        self._since_request = 1 << 30  # the first full window is due at once
        self._last_request = -float("inf")
        self._stop = threading.Event()
        self._worker_error: BaseException | None = None
        self._capture: CaptureThread | None = None
        self._pose = None
        self._last_written: _Written | None = None

    def _configure(self, fps: float | None) -> None:
        """Size the buffers for a source at ``fps`` frames/s (``None``: the run's training fps)."""
        self.fps = fps
        self.buffer = DualFrameBuffer(*_buffer_specs(self.predictor.specs, fps, self.config.frame_step,
                                                     getattr(self.predictor, "frame_wise", frozenset()),
                                                     self.config.pose.persons))

    def window_seconds(self) -> dict[str, float]:
        """Seconds each stream's window spans, first pick to last, at the source's fps (or the run's)."""
        out = {}
        for key, stream, buf in (("rgb", self.video_spec, self.buffer.video_spec),
                                 ("pose", self.keypoint_spec, self.buffer.keypoint_spec)):
            fps = self.fps or (stream.sampling.fps if stream is not None else None)
            if buf is not None and fps:
                out[key] = (buf.offsets[-1] - buf.offsets[0]) / fps
        return out

    def ingest(self, frame: Frame) -> np.ndarray | None:
        """Pose + preprocessing of one frame into the buffers; returns its tracked persons' (M, 33, 4) landmarks
        (slot 0 first; an empty slot all zeros) or None without a pose stream."""
        import cv2

        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)  # (H, W, 3)
        pixels = landmarks = None
        if self.video_spec is not None:
            from twostream.datasets.transforms import frames_to_tensor

            s = self.video_spec
            pixels = np.asarray(frames_to_tensor(rgb[None], s.size, s.mean, s.std)[0])  # (3, S, S)
        if self.keypoint_spec is not None:
            # the frame count as clock (30 fps), as offline: the same frames give the same landmarks
            tracked = self._pose.process(rgb, round(frame.index * 1000 / 30))
            landmarks, self._track_ids = tracked.keypoints, tracked.track_ids  # (M, V, 4), (M,)
        self.buffer.push(frame.index, frame.timestamp, video=pixels, keypoints=landmarks)
        return landmarks

    def _due(self) -> bool:
        self._since_request += 1
        if not self.buffer.ready or self._since_request < self.config.stride:
            return False
        now = time.perf_counter()
        if self.config.max_hz is not None and now - self._last_request < 1.0 / self.config.max_hz:
            return False
        self._since_request, self._last_request = 0, now
        return True

    def infer(self, snap: Snapshot) -> LivePrediction:
        """Both streams on one snapshot, smoothed over the last ``smooth`` windows."""
        video = torch.from_numpy(snap.video) if snap.video is not None else None  # (T, 3, S, S)
        with torch.inference_mode():
            answers = self._predict(video, snap)  # one per person slot (one without a pose stream)
        main = int(np.argmax([a.pose_detected_fraction or 0.0 for a in answers]))  # the most-seen person
        pred = answers[main]
        fused = np.asarray(pred.fused, np.float64)  # (C,)
        if fused.shape != (len(self.classes),):
            raise CheckpointError(f"the model scores {fused.shape[-1]} classes but the run lists "
                                  f"{len(self.classes)}: the run directory's checkpoints do not match")
        self._history.append(fused)
        first = min(int(frames[0]) for frames in snap.frames.values())
        return LivePrediction(
            snap.frame_index, first, snap.timestamp, np.mean(self._history, axis=0),
            fused, {k: np.asarray(v, np.float64) for k, v in pred.per_stream.items()},
            pred.pose_detected_fraction, (time.perf_counter() - snap.timestamp) * 1e3,
            self._persons(answers, snap))

    def _predict(self, video: torch.Tensor | None, snap: Snapshot) -> list:
        """Each person slot's answer (``predict_persons``), or the one answer of a run without a pose stream or
        of a predictor that scores one person (slot 0)."""
        frames = {"frames": snap.frames} if getattr(self.predictor, "frame_wise", None) else {}
        if snap.keypoints is None:
            return [self.predictor.predict_window(video=video, keypoints=None, **frames)]
        if hasattr(self.predictor, "predict_persons"):
            return self.predictor.predict_persons(video, snap.keypoints, **frames)
        return [self.predictor.predict_window(video=video, keypoints=snap.keypoints[:, 0], **frames)]

    def _persons(self, answers: list, snap: Snapshot) -> tuple[PersonPrediction, ...]:
        """The persons seen in the window, each smoothed over their own last answers (a new track starts afresh)."""
        if snap.keypoints is None:
            return ()
        from twostream.pose.backends import boxes_of

        out, boxes = [], boxes_of(snap.keypoints[-1])  # (M, 4) at the window's last frame
        for slot, answer in enumerate(answers):
            if not answer.pose_detected_fraction or not np.any(snap.keypoints[-1, slot]):
                continue  # nobody in this slot now (a person who left keeps no label)
            key = (slot, int(self._track_ids[slot]) if slot < len(self._track_ids) else -1)
            history = self._person_history.setdefault(key, deque(maxlen=self.config.smooth))
            history.append(np.asarray(answer.fused, np.float64))
            out.append(PersonPrediction(slot, key[1], tuple(float(v) for v in boxes[slot]),
                                        np.mean(history, axis=0),
                                        {k: np.asarray(v, np.float64) for k, v in answer.per_stream.items()},
                                        float(answer.pose_detected_fraction)))
        live = {(p.slot, p.track_id) for p in out}
        self._person_history = {k: v for k, v in self._person_history.items() if k in live}
        return tuple(out)

    def _publish(self, result: LivePrediction) -> None:
        self.results.put(result)
        self.stats.predictions += 1
        self.stats.prediction_times.append(time.perf_counter())
        if self.on_prediction is not None:
            self.on_prediction(result)

    def annotate(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
        """The annotated canvas (``overlay.draw_overlay``) for one BGR frame and its persons' (M, V, 4) landmarks
        (None: no pose): each person's skeleton and latest label beside them in the person's colour."""
        result = self.results.peek()
        status = [f"{self.stats.fps:.1f} fps   {self.stats.prediction_hz:.1f} pred/s",
                  "span " + "  ".join(f"{k} {v:.2f} s" for k, v in self.window_seconds().items())]
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

    def run(self, source: FrameSource, *, writer=None, window=None) -> LiveStats:
        """Play ``source`` to the end (or ``max_frames``, ``q``); annotated frames go to ``writer`` / ``window``.

        Threads are joined and the writer left to its owner's ``with`` block however the run ends; an error in
        the capture or inference thread is raised here, after the shutdown.
        """
        if self.config.deterministic and not source.is_file:
            raise ValueError("--deterministic needs a video file source (--source clip.mp4), not a camera or URL")
        if source.fps != self.fps:
            self._configure(source.fps)  # the run's time scale in this source's frames
        with self._pose_estimator():
            if self.config.deterministic:
                self._run_inline(source, writer, window)
            else:
                self._run_threaded(source, writer, window)
        if self._worker_error is not None:
            raise self._worker_error
        return self.stats

    def _pose_estimator(self):
        from contextlib import nullcontext

        if self.keypoint_spec is None:
            return nullcontext()
        from twostream.pose.tracking import PoseStream

        self._pose = PoseStream(self.config.pose)  # fresh: tracking per run; a missing model is one line
        return self._pose

    def _run_inline(self, source: FrameSource, writer, window) -> None:
        while self.config.max_frames is None or self.stats.frames < self.config.max_frames:
            frame = source.read()
            if frame is None or not self._step(frame, writer, window, inline=True):
                break

    def _run_threaded(self, source: FrameSource, writer, window) -> None:
        frames: LatestSlot[Frame] = LatestSlot()
        self._capture = capture = CaptureThread(source, frames, self.config.max_frames)
        worker = threading.Thread(target=self._worker, name="twostream-inference", daemon=True)
        capture.start()
        worker.start()
        try:
            while self._worker_error is None:
                frame = frames.take(timeout=0.1)
                if frame is None and capture.finished.is_set():
                    frame = frames.take(timeout=0)  # one last frame may have landed just before it finished
                    if frame is None:
                        break
                if frame is not None and not self._step(frame, writer, window, inline=False):
                    break
        finally:
            capture.stop()
            self._stop.set()
            self._requests.wake()
            capture.join()
            worker.join()
            self.stats.dropped = frames.overwritten
            self.stats.skipped_inferences = self._requests.overwritten
        if capture.error is not None:
            raise capture.error

    def _worker(self) -> None:
        while not self._stop.is_set():
            snap = self._requests.take(timeout=0.1)
            if snap is None:
                continue
            try:
                self._publish(self.infer(snap))
            except BaseException as exc:  # reported by run() after the shutdown
                self._worker_error = exc
                return

    def _step(self, frame: Frame, writer, window, *, inline: bool) -> bool:
        """One frame through pose, buffers, (maybe) inference and the outputs; False when the user quits."""
        landmarks = self.ingest(frame)
        if landmarks is not None:
            self.stats.person_frames = (self.stats.person_frames or 0) + bool(np.any(landmarks))
        if self._due():
            snap = self.buffer.snapshot()
            if inline:
                self._publish(self.infer(snap))
            else:
                self._requests.put(snap)  # the worker takes the newest; an unserved older one is overwritten
        image = self.annotate(frame.image, landmarks)
        if writer is not None:
            self._write(writer, frame.index, image)
        keep_going = self._show(window, image) if window is not None else True
        self.stats.frames += 1
        now = time.perf_counter()
        self.stats.frame_times.append(now)
        self.stats.latencies_ms.append((now - frame.timestamp) * 1e3)
        return keep_going

    def _write(self, writer, index: int, image: np.ndarray) -> None:
        """Write ``image`` as frame ``index``; frames dropped since the last one written are filled with the
        previous image (what a viewer saw meanwhile), so the video keeps one frame per source frame and its time."""
        previous = self._last_written or _Written(-1, image)  # frames dropped before the first: this one
        for _ in range(index - previous.index - 1):
            writer.write(previous.image)
        writer.write(image)
        self._last_written = _Written(index, image)

    def _show(self, window, image: np.ndarray) -> bool:
        key = window.show(image)
        if key == _PAUSE_KEY:
            if self._capture is not None:
                self._capture.paused.set()
            while (key := window.show(image)) not in (_PAUSE_KEY, *_QUIT_KEYS):
                time.sleep(0.02)
            if self._capture is not None:
                self._capture.paused.clear()
        return key not in _QUIT_KEYS

