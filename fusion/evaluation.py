"""Score both streams on a split's videos, fit the fusion modes on VALIDATION, compare everything on test.

``fuse_runs`` (behind ``twostream fuse``) reads only the validation videos; ``evaluate_fused`` (behind
``twostream evaluate FUSED_RUN``) reports RGB-only, pose-only and every fusion mode on the same test videos.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
from torch.utils.data import DataLoader

from twostream.errors import CheckpointError
from twostream.fusion.late import MODES, build_mode, mode_from_dict
from twostream.fusion.run import (STREAM_FILES, RunPredictor, detected_fraction, load_run, read_fusion, stream_role,
                                  write_fused_run)
from twostream.pose.cache_check import screen_split
from twostream.streams.checkpoint import check_same_classes, class_difference
from twostream.streams.inference import Evaluation, checkpoint_of, open_run
from twostream.streams.keypoint_data import CacheKeypoints

Progress = Callable[[int, int], None]


class SplitScores(NamedTuple):
    """Per-video scores of a split: ``probs[role]`` (N, C), ``labels`` (N,), ``detected`` (N,) in [0, 1]."""

    probs: dict[str, np.ndarray]
    labels: np.ndarray
    detected: np.ndarray


def score_items(predictor: RunPredictor, items: Sequence, *, root: str | Path | None = None, batch_size: int = 4,
                num_workers: int = 0, progress: Progress | None = None) -> SplitScores:
    """Run every stream of ``predictor`` on ``items`` (``VideoItem``s), one evaluation clip per video.

    One ``ClipDataset`` with both keys, so the RGB and pose streams see the same frame indices; streams with
    different clip lengths get one dataset each, zipped batch by batch.
    """
    from twostream.datasets.clips import ClipDataset

    if not items:
        raise ValueError("no videos to score: the split is empty (check the dataset root and --val-fraction)")
    by_len: dict[tuple, list[str]] = {}  # streams that pick the same frames share one dataset
    for key, spec in predictor.specs.items():
        by_len.setdefault((spec.clip_len, spec.sampling), []).append(key)
    video = predictor.specs.get("video")
    load = CacheKeypoints(predictor.specs["keypoints"].layout, str(root)) if "keypoints" in predictor.specs else None
    loaders = [DataLoader(ClipDataset(items, clip_len=clip_len, keys=keys, train=False, load_keypoints=load,
                                      size=video.size if video else 1, mean=video.mean if video else (0.0,) * 3,
                                      std=video.std if video else (1.0,) * 3, sampling=sampling),
                          batch_size=batch_size, num_workers=num_workers)
               for (clip_len, sampling), keys in by_len.items()]
    probs: dict[str, list[np.ndarray]] = {role: [] for role in predictor.models}
    labels, detected, done = [], [], 0
    for batches in zip(*loaders):
        batch = {k: v for b in batches for k, v in b.items()}
        for role, p in predictor.stream_probs(batch).items():
            probs[role].append(p)
        labels.append(batch["label"].numpy())
        n = len(batch["label"])
        detected.append(detected_fraction(batch["keypoints"]).numpy() if "keypoints" in batch else np.ones(n))
        done += n
        if progress is not None:
            progress(done, len(items))
    return SplitScores({role: np.concatenate(p) for role, p in probs.items()}, np.concatenate(labels),
                       np.concatenate(detected))


def _data_record(run: Path) -> dict[str, Any]:
    config = run / "config.json"
    if config.is_file():
        return dict(json.loads(config.read_text(encoding="utf-8")).get("data") or {})
    return {}


def _streams(rgb_run: Path, pose_run: Path, device: str) -> tuple[RunPredictor, dict[str, str]]:
    """The two single-stream runs as one unfused predictor, and each role's architecture (each checkpoint read
    once)."""
    runs = {"rgb": open_run(rgb_run, device=device), "pose": open_run(pose_run, device=device)}
    for (role, run), path in zip(runs.items(), (rgb_run, pose_run)):
        if stream_role(run.model) != role:
            raise CheckpointError(f"{path} is not a single {role} stream run (it holds: {stream_role(run.model)}); "
                                  "pass the RGB run first and the pose run second")
    if runs["rgb"].classes != runs["pose"].classes:
        raise CheckpointError(f"the streams were trained on different class lists ({rgb_run} = the run, {pose_run} "
                              f"= the data: {class_difference(runs['rgb'].classes, runs['pose'].classes)}); train "
                              "both on the same dataset")
    predictor = RunPredictor({role: run.model for role, run in runs.items()}, runs["rgb"].classes, None, device)
    return predictor, {role: run.arch for role, run in runs.items()}


def _fit_all(scores: SplitScores, weight: float | None) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit every mode on validation scores: (parameters per mode, validation accuracy per mode)."""
    params, validation = {}, {}
    aux = {"detected_fraction": scores.detected}
    for name in MODES:
        given = {"fixed": {"weight": weight}, "gated": {"weight": weight, "tune": False}}.get(name, {})
        fusion = build_mode(name, **(given if weight is not None else {}))
        fusion.fit(scores.probs, scores.labels, aux)
        params[name] = fusion.to_dict()
        validation[name] = float((fusion.fuse(scores.probs, aux).argmax(1) == scores.labels).mean())
    return params, validation


def fuse_runs(rgb_run: str | Path, pose_run: str | Path, out: str | Path, *, mode: str = "tuned",
              weight: float | None = None, root: str | Path | None = None, split: int | None = None,
              split_dir: str | Path | None = None, val_fraction: float | None = None, seed: int | None = None,
              device: str = "cpu", batch_size: int = 4, progress: Progress | None = None) -> dict[str, Any]:
    """Fit every fusion mode on the validation videos and write the fused run ``out``; returns its record.

    ``root`` / split settings default to those the RGB run was trained with (its ``config.json``). ``weight``
    fixes the pose share of ``fixed`` (and of ``gated``, which is otherwise tuned). Test videos are never read.
    """
    if mode not in MODES:
        raise ValueError(f"unknown fusion mode {mode!r}; choose one of {', '.join(MODES)}")
    from twostream.datasets.splits import dataset_classes, load_split

    rgb_run, pose_run = Path(rgb_run), Path(pose_run)
    predictor, archs = _streams(rgb_run, pose_run, device)
    data = _data_record(rgb_run)
    root = root or data.get("root")
    if root is None or not Path(root).is_dir():
        raise ValueError(f"dataset folder {root!r} not found; pass ROOT (the folder both runs were trained on)")
    settings = {"split": split or data.get("split") or 1, "split_dir": split_dir or data.get("split_dir"),
                "val_fraction": val_fraction if val_fraction is not None else data.get("val_fraction", 0.1),
                "seed": seed if seed is not None else data.get("seed", 0)}
    # the RGB run's exact lists, unless the split was asked for anew
    frozen = data.get("videos") if all(v is None for v in (split, split_dir, val_fraction, seed)) else None
    check_same_classes(predictor.classes, dataset_classes(root, settings["split_dir"]), root)
    s, _ = screen_split(load_split(root, **settings, videos=frozen), root, parts=("val",))  # all val videos fit it
    scores = score_items(predictor, s.val, root=root, batch_size=batch_size, progress=progress)
    params, validation = _fit_all(scores, weight)
    record = {"mode": mode, "params": params, "classes": list(predictor.classes), "root": str(Path(root).resolve()),
              "split": {**settings, "split_dir": str(settings["split_dir"]) if settings["split_dir"] else None,
                        "fit_on": "val", "num_videos": int(len(scores.labels)), "videos": s.record()},
              "streams": {role: {"run": str(run), "arch": archs[role],
                                 "file": STREAM_FILES[role]} for role, run in (("rgb", rgb_run), ("pose", pose_run))},
              "validation": {"accuracy": validation,
                             **{role: float((p.argmax(1) == scores.labels).mean()) for role, p in scores.probs.items()}}}
    write_fused_run(out, record, {"rgb": checkpoint_of(rgb_run), "pose": checkpoint_of(pose_run)})
    return record


def evaluate_fused(run_dir: str | Path, root: str | Path | None = None, split: str = "test", *,
                   device: str = "cpu", batch_size: int = 4, num_workers: int = 0,
                   progress: Progress | None = None, on_bad_cache: str = "fail") -> dict[str, Any]:
    """RGB-only, pose-only and every fitted fusion mode on the same ``split`` videos (``"test"`` or ``"val"``).

    Returns ``{"split", "chosen", "model", "classes", "num_videos", "mean_detected_fraction", "confusion",
    "results": {"rgb", "pose", "fused:<mode>": metrics}}`` with metrics from ``streams.metrics.summarise``;
    ``model`` names the run (``fused(tuned): cnn_lstm+pose_gru``), ``confusion`` is the chosen mode's (C, C)
    count matrix (row = true class) as nested lists. One clip per video: clip and video accuracy agree.
    Every keypoint cache is checked first (``on_bad_cache``: fail | skip, whose videos are listed in
    ``dropped``)
    """
    from twostream.datasets.splits import dataset_classes, load_split
    from twostream.streams.metrics import confusion, summarise

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    record = read_fusion(run_dir)
    predictor = load_run(run_dir, device)
    root = root or record["root"]
    settings = {k: record["split"][k] for k in ("split", "split_dir", "val_fraction", "seed")}
    check_same_classes(predictor.classes, dataset_classes(root, settings["split_dir"]), root)
    data = load_split(root, **settings, videos=record["split"].get("videos"))
    dropped: tuple[str, ...] = ()
    if "keypoints" in predictor.specs:  # every cache checked before the first video is scored
        data, dropped = screen_split(data, root, on_bad_cache=on_bad_cache, parts=(split,))
    items = getattr(data, split)
    scores = score_items(predictor, items, root=root, batch_size=batch_size, num_workers=num_workers,
                         progress=progress)
    index = np.arange(len(scores.labels))
    classes = predictor.classes
    results = {role: summarise(scores.probs[role], scores.labels, index, classes) for role in ("rgb", "pose")}
    chosen = None
    for name, params in record["params"].items():
        fused = mode_from_dict(name, params).fuse(scores.probs, {"detected_fraction": scores.detected})
        results[f"fused:{name}"] = summarise(fused, scores.labels, index, classes)
        chosen = fused if name == record["mode"] else chosen
    archs = "+".join(record["streams"][role].get("arch", role) for role in ("rgb", "pose"))
    return {"split": split, "chosen": record["mode"], "model": f"fused({record['mode']}): {archs}",
            "classes": list(classes), "num_videos": int(len(index)), "results": results,
            "mean_detected_fraction": float(scores.detected.mean()), "unlisted": list(data.unlisted),
            "dropped": list(dropped),
            "confusion": confusion(scores.labels, chosen.argmax(1), len(classes)).tolist()}


def fused_evaluation(result: dict[str, Any]) -> Evaluation:
    """``evaluate_fused``'s result as an ``Evaluation`` for ``streams.inference.write_evaluation``: the chosen
    mode's metrics at the top level of ``metrics.json`` (so ``compare`` reads a fused run like any other run),
    every stream and mode under ``side_by_side``."""
    chosen = result["results"][f"fused:{result['chosen']}"]
    metrics = {**chosen, "model": result["model"], "arch": "fused", "split": result["split"],
               "chosen": result["chosen"], "clips_per_video": 1,
               "mean_detected_fraction": result["mean_detected_fraction"], "side_by_side": result["results"],
               "unlisted": result.get("unlisted", []), "dropped": result.get("dropped", [])}
    return Evaluation(metrics, np.asarray(result["confusion"], dtype=np.int64), tuple(result["classes"]))


def format_side_by_side(result: dict[str, Any]):
    """A rich table: one row per stream / fusion mode, the chosen mode marked with ★."""
    from rich.table import Table

    table = Table(title=f"{result['split']} split, {result['num_videos']} videos "
                        f"(person found in {result['mean_detected_fraction']:.0%} of pose frames)")
    table.add_column("scores")
    for column in ("accuracy", "top-5", "macro F1", "mean class acc."):
        table.add_column(column, justify="right")
    for name, m in result["results"].items():
        label = f"{name} ★" if name == f"fused:{result['chosen']}" else name
        table.add_row(label, *(f"{m[k]:.3f}" for k in ("accuracy", "top5", "macro_f1", "mean_class_accuracy")))
    return table
