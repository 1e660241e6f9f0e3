"""Pre-extracted skeletons in the mmaction2 / pyskl pickle format (COCO-17), read through a restricted unpickler.

Two shapes of file are accepted: a single annotation dict, or ``{"split": {name: [frame_dir, ...]},
"annotations": [dict, ...]}`` (the public ``ucf101_2d.pkl`` / ``hmdb51_2d.pkl``). Each annotation holds
``keypoint`` (M, T, V, 2) in pixels, ``keypoint_score`` (M, T, V), ``frame_dir``, ``label`` and ``img_shape``
(height, width). Pickles can run code when loaded, so ``find_class`` only lets through builtin containers and
scalars and what numpy needs to rebuild arrays; anything else (``os.system`` …) is refused.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twostream.errors import CacheError

_NUMPY_ALLOWED = {
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in ((f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                         (f"{core}.numeric", "_frombuffer"))  # _frombuffer: protocol-5 arrays
} | {("numpy", "ndarray"), ("numpy", "dtype")}
_BUILTINS_ALLOWED = {"set", "frozenset", "complex", "bytearray", "slice", "range"}


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles spell bytes as _codecs.encode(str, "latin1"); allow that, not arbitrary codecs.
    if codecs.lookup(encoding).name not in ("iso8859-1", "utf-8", "ascii"):
        raise pickle.UnpicklingError(f"refused _codecs.encode with codec {encoding!r}")
    return codecs.encode(text, encoding)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only plain data: builtin containers / scalars and numpy arrays / dtypes."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_ALLOWED or (module == "builtins" and name in _BUILTINS_ALLOWED):
            return super().find_class(module, name)
        if (module, name) == ("collections", "OrderedDict"):
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only plain containers and numpy arrays "
                                     "are allowed in a skeleton pickle")


def safe_load(path: str | os.PathLike) -> object:
    """Unpickle ``path`` with ``RestrictedUnpickler``; ``CacheError`` naming the file when refused or corrupt."""
    path = Path(path)
    try:
        return RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except pickle.UnpicklingError as exc:
        raise CacheError(f"{path}: {exc}; this file is not a plain skeleton pickle, do not load it") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CacheError(f"{path} is not a readable skeleton pickle ({exc}); re-download or re-export it") from exc


@dataclass(frozen=True)
class SkeletonRecord:
    name: str
    """The annotation's ``frame_dir`` (video name without extension)."""
    label: int
    """Class index; -1 when the annotation has none."""
    keypoints: np.ndarray
    """float32 (T, M, V, 4): x, y normalised to ``img_shape``, 0, score, for M >= 1 person slots, the one
    present in most frames with the highest total score first; an absent person / frame is zeros."""
    subject: str | None = None
    """Who performs it (the annotation's ``subject``), when the file says: validation and folds split by it."""


@dataclass(frozen=True)
class SkeletonSet:
    annotations: list[SkeletonRecord]
    layout: str = "coco17"
    splits: dict[str, list[str]] = field(default_factory=dict)
    """Split name → record names, as stored in the file (empty for a single annotation)."""
    classes: tuple[str, ...] = ()
    """Class names by label, when the file has them (``classes``)."""
    fps: float | None = None
    """Frame rate of the sequences, when the file says (``fps``): the run's time scale in seconds."""


def _record(ann: dict, path: Path) -> SkeletonRecord:
    missing = [k for k in ("keypoint", "img_shape") if k not in ann]
    if missing:
        raise CacheError(f"{path}: annotation {ann.get('frame_dir', '?')!r} has no {' / '.join(missing)} "
                         f"(keys: {', '.join(sorted(ann))}); it is not a 2D skeleton annotation — use a "
                         "pyskl/mmaction2 skeleton pickle such as ucf101_2d.pkl")
    xy = np.asarray(ann["keypoint"], np.float32)  # (M, T, V, 2)
    if xy.ndim != 4 or xy.shape[-1] != 2:
        raise CacheError(f"{path}: keypoint of {ann.get('frame_dir')!r} has shape {xy.shape}, expected (M, T, V, 2)")
    score = np.asarray(ann.get("keypoint_score", np.ones(xy.shape[:3])), np.float32)  # (M, T, V)
    present = score.sum(axis=-1) > 0  # (M, T): padded person slots hold no one
    order = np.lexsort((-score.sum(axis=(1, 2)), -present.sum(axis=1)))  # longest present, then most confident
    height, width = ann["img_shape"][:2]
    kp = np.zeros((xy.shape[1], xy.shape[0], xy.shape[2], 4), np.float32)  # (T, M, V, 4)
    kp[..., 0] = xy[order].transpose(1, 0, 2, 3)[..., 0] / width
    kp[..., 1] = xy[order].transpose(1, 0, 2, 3)[..., 1] / height
    kp[..., 3] = score[order].transpose(1, 0, 2)
    kp[~present[order].T] = 0.0
    label = ann.get("label")
    subject = ann.get("subject")
    return SkeletonRecord(str(ann.get("frame_dir", path.stem)), -1 if label is None else int(label), kp,
                          None if subject is None else str(subject))


def load_skeleton_pickle(path: str | os.PathLike) -> SkeletonSet:
    """Read an mmaction2 / pyskl 2D skeleton pickle (COCO-17) as ``SkeletonSet``; see the module docstring."""
    path = Path(path)
    data = safe_load(path)
    if isinstance(data, dict) and "annotations" in data:
        annotations, splits = data["annotations"], data.get("split", {})
    elif isinstance(data, dict):
        annotations, splits = [data], {}
    elif isinstance(data, list):
        annotations, splits = data, {}
    else:
        raise CacheError(f"{path}: expected an annotation dict, a list of them or {{split, annotations}}, "
                         f"got {type(data).__name__}")
    records = [_record(ann, path) for ann in annotations]
    num_joints = {r.keypoints.shape[2] for r in records}
    if num_joints - {17}:
        raise CacheError(f"{path}: expected COCO-17 keypoints, found {sorted(num_joints)} joints")
    whole = data if isinstance(data, dict) and "annotations" in data else {}
    fps = whole.get("fps")
    return SkeletonSet(records, "coco17", {str(k): [str(n) for n in v] for k, v in splits.items()},
                       tuple(str(c) for c in whole.get("classes", ())),
                       float(fps) if isinstance(fps, (int, float)) and fps > 0 else None)
