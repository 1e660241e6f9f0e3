"""Inference, the live engine's third stage: one buffer snapshot through the predictor — a label per tracked
person, the scene's RGB shared — smoothed over the last windows into a ``LivePrediction``."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import torch

from twostream.errors import CheckpointError
from twostream.fusion.live.buffers import Snapshot
from twostream.fusion.live.records import LiveConfig, LivePrediction, PersonPrediction, Predictor


class Inference:
    """Runs ``predictor`` on snapshots; keeps the run's and each person's last ``smooth`` answers."""

    def __init__(self, predictor: Predictor, config: LiveConfig):
        self.predictor, self.config = predictor, config
        self.classes = list(predictor.classes)
        self._history: deque[np.ndarray] = deque(maxlen=config.smooth)
        self._person_history: dict[tuple[int, int], deque[np.ndarray]] = {}  # (slot, track id) → last answers

    def __call__(self, snap: Snapshot, track_ids: np.ndarray) -> LivePrediction:
        """Both streams on one snapshot (``track_ids`` (M,): the tracker's id of each person slot now)."""
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
            self._persons(answers, snap, track_ids))

    def _predict(self, video: torch.Tensor | None, snap: Snapshot) -> list:
        """Each person slot's answer (``predict_persons``), or the one answer of a run without a pose stream or
        of a predictor that scores one person (slot 0)."""
        frames = {"frames": snap.frames} if getattr(self.predictor, "frame_wise", None) else {}
        if snap.keypoints is None:
            return [self.predictor.predict_window(video=video, keypoints=None, **frames)]
        if hasattr(self.predictor, "predict_persons"):
            return self.predictor.predict_persons(video, snap.keypoints, **frames)
        return [self.predictor.predict_window(video=video, keypoints=snap.keypoints[:, 0], **frames)]

    def _persons(self, answers: list, snap: Snapshot, track_ids: np.ndarray) -> tuple[PersonPrediction, ...]:
        """The persons seen in the window, each smoothed over their own last answers (a new track starts afresh)."""
        if snap.keypoints is None:
            return ()
        from twostream.pose.backends import boxes_of

        out, boxes = [], boxes_of(snap.keypoints[-1])  # (M, 4) at the window's last frame
        for slot, answer in enumerate(answers):
            if not answer.pose_detected_fraction or not np.any(snap.keypoints[-1, slot]):
                continue  # nobody in this slot now (a person who left keeps no label)
            key = (slot, int(track_ids[slot]) if slot < len(track_ids) else -1)
            history = self._person_history.setdefault(key, deque(maxlen=self.config.smooth))
            history.append(np.asarray(answer.fused, np.float64))
            out.append(PersonPrediction(slot, key[1], tuple(float(v) for v in boxes[slot]),
                                        np.mean(history, axis=0),
                                        {k: np.asarray(v, np.float64) for k, v in answer.per_stream.items()},
                                        float(answer.pose_detected_fraction)))
        live = {(p.slot, p.track_id) for p in out}
        self._person_history = {k: v for k, v in self._person_history.items() if k in live}
        return tuple(out)
