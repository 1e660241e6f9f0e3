"""Late (score) fusion of the RGB and pose streams: ``fixed``, ``tuned``, ``stacked`` and ``gated``.

Every mode works on per-video softmax probabilities, ``probs = {"rgb": (N, C), "pose": (N, C)}``, plus
``aux = {"detected_fraction": (N,)}`` (the fraction of the pose window's frames in which a person was found).
They share one small interface::

    mode.fit(val_probs, val_labels, val_aux)   # on the VALIDATION split only; a no-op for `fixed`
    fused = mode.fuse(probs, aux)              # (N, C), rows sum to 1
    mode.to_dict() / mode_from_dict(d)         # plain JSON (floats and lists) — no pickle

The pose weight ``w`` always means ``fused = rgb * (1 - w) + pose * w``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

STREAMS = ("rgb", "pose")
WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 4)  # 0.00, 0.05, …, 1.00: the tuned / gated search space

Probs = Mapping[str, np.ndarray]


def _check_weight(weight: float) -> float:
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"fusion weight must lie in [0, 1] (pose share), got {weight}; try --weight 0.5")
    return float(weight)


def _pair(probs: Probs) -> tuple[np.ndarray, np.ndarray]:
    missing = [name for name in STREAMS if name not in probs]
    if missing:
        raise ValueError(f"fusion needs probabilities for streams {STREAMS}, missing {missing}")
    rgb, pose = (np.asarray(probs[name], dtype=np.float64) for name in STREAMS)
    if rgb.shape != pose.shape or rgb.ndim != 2:
        raise ValueError(f"rgb and pose probabilities must both be (N, C), got {rgb.shape} and {pose.shape}")
    return rgb, pose


def _detected(aux: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray:
    if aux is None or "detected_fraction" not in aux:
        raise ValueError("gated fusion needs aux['detected_fraction'] (N,), the share of frames with a person")
    detected = np.clip(np.asarray(aux["detected_fraction"], dtype=np.float64).reshape(-1), 0.0, 1.0)
    if detected.shape != (n,):
        raise ValueError(f"aux['detected_fraction'] must be ({n},), got {detected.shape}")
    return detected


def _best_weight(score_at: Any, labels: np.ndarray) -> float:
    """Grid search on validation: highest accuracy, ties broken by lower log-loss, then by closeness to 0.5."""
    labels = np.asarray(labels, dtype=np.int64)

    def key(w: float) -> tuple[float, float, float]:
        fused = score_at(w)  # (N, C)
        accuracy = float((fused.argmax(1) == labels).mean())
        nll = float(-np.log(np.clip(fused[np.arange(len(labels)), labels], 1e-12, None)).mean())
        return (-accuracy, nll, abs(w - 0.5))

    return float(min(WEIGHT_GRID, key=key))


@dataclass
class FixedFusion:
    """``rgb·(1−w) + pose·w`` with a weight given by the user (default 1:1); ``fit`` changes nothing."""

    name: ClassVar[str] = "fixed"
    weight: float = 0.5
    """Pose share w in [0, 1]."""

    def __post_init__(self) -> None:
        self.weight = _check_weight(self.weight)

    def fit(self, val_probs: Probs, val_labels: np.ndarray, val_aux: Mapping[str, np.ndarray] | None = None) -> None:
        return None

    def fuse(self, probs: Probs, aux: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        rgb, pose = _pair(probs)
        return rgb * (1.0 - self.weight) + pose * self.weight  # (N, C)

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight}


@dataclass
class TunedFusion(FixedFusion):
    """One weight w in [0, 1] chosen by grid search (``WEIGHT_GRID``) on validation accuracy."""

    name: ClassVar[str] = "tuned"

    def fit(self, val_probs: Probs, val_labels: np.ndarray, val_aux: Mapping[str, np.ndarray] | None = None) -> None:
        rgb, pose = _pair(val_probs)
        self.weight = _best_weight(lambda w: rgb * (1.0 - w) + pose * w, val_labels)


@dataclass
class GatedFusion:
    """Pose-confidence gating: the pose weight is ``w · detected_fraction`` per video.

    With no person in any frame the output equals the RGB stream exactly; ``w`` itself is tuned on validation
    like ``tuned`` unless ``tune`` is False (then it keeps the given value).
    """

    name: ClassVar[str] = "gated"
    weight: float = 0.5
    """Pose share w in [0, 1] when a person is found in every frame."""
    tune: bool = True
    """Grid-search ``weight`` on validation in ``fit``."""

    def __post_init__(self) -> None:
        self.weight = _check_weight(self.weight)

    def _mix(self, rgb: np.ndarray, pose: np.ndarray, detected: np.ndarray, weight: float) -> np.ndarray:
        w = (weight * detected)[:, None]  # (N, 1)
        return rgb * (1.0 - w) + pose * w  # (N, C)

    def fit(self, val_probs: Probs, val_labels: np.ndarray, val_aux: Mapping[str, np.ndarray] | None = None) -> None:
        if not self.tune:
            return
        rgb, pose = _pair(val_probs)
        detected = _detected(val_aux, len(rgb))
        self.weight = _best_weight(lambda w: self._mix(rgb, pose, detected, w), val_labels)

    def fuse(self, probs: Probs, aux: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        rgb, pose = _pair(probs)
        return self._mix(rgb, pose, _detected(aux, len(rgb)), self.weight)

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "tune": self.tune}


@dataclass
class StackedFusion:
    """Logistic regression on the concatenated probabilities ``[rgb, pose]`` (N, 2C), fit on validation.

    Stored as plain arrays (``coef`` (K, 2C), ``intercept`` (K,), ``labels`` (K,): the class ids seen in
    validation); a class never seen in validation gets probability 0. Before ``fit`` (or when validation holds
    fewer than two classes) it falls back to the 1:1 average.
    """

    name: ClassVar[str] = "stacked"
    coef: list[list[float]] | None = None
    intercept: list[float] | None = None
    labels: list[int] | None = None
    C: float = 1.0
    """Inverse L2 strength of the logistic regression."""
    fallback: str | None = field(default=None)

    def fit(self, val_probs: Probs, val_labels: np.ndarray, val_aux: Mapping[str, np.ndarray] | None = None) -> None:
        from sklearn.linear_model import LogisticRegression

        rgb, pose = _pair(val_probs)
        labels = np.asarray(val_labels, dtype=np.int64)
        if len(np.unique(labels)) < 2:
            self.coef = self.intercept = self.labels = None
            self.fallback = "validation holds fewer than two classes: 1:1 average"
            return
        model = LogisticRegression(C=self.C, max_iter=1000).fit(np.concatenate([rgb, pose], axis=1), labels)
        self.coef = model.coef_.tolist()
        self.intercept = model.intercept_.tolist()
        self.labels = [int(c) for c in model.classes_]
        self.fallback = None

    def fuse(self, probs: Probs, aux: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        rgb, pose = _pair(probs)
        if self.coef is None:
            return (rgb + pose) / 2.0
        features = np.concatenate([rgb, pose], axis=1)  # (N, 2C)
        logits = features @ np.asarray(self.coef).T + np.asarray(self.intercept)  # (N, K) or (N, 1) for 2 classes
        if logits.shape[1] == 1:  # scikit-learn's binary case: one row of coefficients for the second class
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)  # (N, 2)
        logits -= logits.max(axis=1, keepdims=True)
        seen = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # (N, K)
        fused = np.zeros_like(rgb)  # (N, C)
        fused[:, self.labels] = seen
        return fused

    def to_dict(self) -> dict[str, Any]:
        return {"coef": self.coef, "intercept": self.intercept, "labels": self.labels, "C": self.C,
                "fallback": self.fallback}


MODES: dict[str, type] = {cls.name: cls for cls in (FixedFusion, TunedFusion, StackedFusion, GatedFusion)}


def build_mode(name: str, **params: Any):
    """A fusion mode by name (``fixed``, ``tuned``, ``stacked``, ``gated``) with its parameters."""
    if name not in MODES:
        raise ValueError(f"unknown fusion mode {name!r}; choose one of {', '.join(MODES)}")
    return MODES[name](**params)


def mode_from_dict(name: str, params: Mapping[str, Any]):
    """Rebuild a fitted mode from the parameters ``to_dict`` wrote (as stored in ``fusion.json``)."""
    return build_mode(name, **dict(params))
