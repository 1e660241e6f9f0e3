"""Using a finished training run: open it, evaluate it on a split, compare evaluated runs.

Predicting one video goes through ``twostream.fusion.run.load_run(run).predict_video`` for every kind of run
(RGB, pose or fused), which opens single-stream runs with ``open_run`` below.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from twostream.errors import CheckpointError
from twostream.streams import metrics as M
from twostream.streams.base import Stream
from twostream.streams.checkpoint import check_same_classes, model_from_checkpoint, read_checkpoint, write_text


class TrainedRun(NamedTuple):
    run_dir: Path
    model: Stream
    classes: tuple[str, ...]
    arch: str
    config: dict[str, Any]
    """The run's ``config.json``: arch, arch_kwargs, classes, config (TrainConfig), data (root, split, …)."""


class Evaluation(NamedTuple):
    metrics: dict[str, Any]
    confusion: np.ndarray  # (C, C) counts, row = true class
    classes: tuple[str, ...]


def checkpoint_of(run: str | Path) -> Path:
    """A run's model file: ``run`` itself when it is a ``.pt``, else ``run/best.pt`` (written from epoch 1 on)."""
    run = Path(run)
    if run.suffix != ".pt" and not run.is_dir():
        raise FileNotFoundError(f"run directory {run} does not exist; train one with `twostream train`")
    if (run / "fusion.json").is_file():
        raise CheckpointError(f"{run} is a fused run (fusion.json); open it with twostream.fusion.run.load_run")
    path = run if run.suffix == ".pt" else run / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; pass a run directory written by `twostream train`")
    return path


def open_run(run: str | Path, *, device: str | torch.device = "cpu") -> TrainedRun:
    """The run's best model in eval mode, with its classes and ``config.json`` (``run`` may be a ``.pt``); the
    checkpoint is read once."""
    path = checkpoint_of(run)
    ckpt = read_checkpoint(path)
    config_path = path.parent / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    model = model_from_checkpoint(ckpt, path, device=device)
    return TrainedRun(path.parent, model, tuple(ckpt["classes"]), ckpt["arch"], config)


def evaluate_run(run_dir: str | Path, root: str | Path | None = None, *, split: str = "test",
                 clips_per_video: int = 1, device: str | None = None, batch_size: int | None = None,
                 num_workers: int | None = None, on_bad_cache: str = "fail") -> Evaluation:
    """Metrics of the run's best model on its dataset's ``split`` ("test" or "val"), video-averaged over clips.

    ``root`` defaults to the dataset recorded in the run's ``config.json``; the exact video lists (or, for older
    runs, the split files and seed) also come from there, so the run is tested on exactly the videos it held
    out; videos added since are left out and named in ``metrics["unlisted"]``.
    """
    from dataclasses import replace

    from twostream.streams.data import build_datasets
    from twostream.streams.training import TrainConfig, evaluate, loader_for
    from twostream.streams.distributed import DistEnv

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    if clips_per_video < 1:
        raise ValueError(f"clips_per_video must be >= 1, got {clips_per_video}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    run = open_run(run_dir, device=dev)
    data_meta = run.config.get("data") or {}
    root = root if root is not None else data_meta.get("root")
    if root is None:
        raise ValueError(f"{run_dir}/config.json records no dataset root; pass ROOT: twostream evaluate RUN ROOT")
    if data_meta.get("source", "folder") == "folder" and Path(root).is_dir():  # named classes before any work
        from twostream.datasets.splits import dataset_classes

        check_same_classes(run.classes, dataset_classes(root, data_meta.get("split_dir")), root)
    bundle = build_datasets(root, run.model.input_spec, split=data_meta.get("split", 1),
                            split_dir=data_meta.get("split_dir"), train_split=data_meta.get("train_split"),
                            test_split=data_meta.get("test_split"), val_fraction=data_meta.get("val_fraction", 0.1),
                            seed=data_meta.get("seed", 0), clips_per_video=clips_per_video,
                            videos=data_meta.get("videos"), on_bad_cache=on_bad_cache)
    check_same_classes(run.classes, bundle.classes, root)
    dataset = getattr(bundle, split)
    if dataset is None or len(dataset) == 0:
        raise ValueError(f"the {split!r} split of {root} is empty; try --split {'val' if split == 'test' else 'test'}")
    cfg = TrainConfig(**{k: v for k, v in (run.config.get("config") or {}).items() if k in TrainConfig.__annotations__})
    cfg = replace(cfg, batch_size=batch_size or cfg.batch_size,
                  num_workers=cfg.num_workers if num_workers is None else num_workers)
    out = evaluate(run.model, loader_for(dataset, cfg, env=DistEnv(0, 1, 0), epoch=0, train=False), dev)
    summary = M.summarise(out.probs, out.labels, out.video_index, run.classes)
    summary.update(split=split, clips_per_video=clips_per_video, arch=run.arch, dropped=list(bundle.dropped),
                   unlisted=list(bundle.unlisted))
    return Evaluation(summary, M.confusion(out.labels, out.probs.argmax(1), len(run.classes)), run.classes)


def write_evaluation(run_dir: str | Path, ev: Evaluation) -> list[Path]:
    """``metrics.json``, ``confusion.csv`` and ``confusion.png`` in ``run_dir`` (each written atomically)."""
    run_dir = Path(run_dir)
    paths = [run_dir / "metrics.json", run_dir / "confusion.csv", run_dir / "confusion.png"]
    write_text(paths[0], json.dumps(ev.metrics, indent=2))
    M.write_confusion_csv(ev.confusion, ev.classes, paths[1])
    M.plot_confusion(ev.confusion, ev.classes, paths[2])
    return paths


COMPARE_FIELDS = ("run", "model", "accuracy", "video_accuracy", "macro_f1", "top5", "num_videos")


def compare_runs(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One row per run from its ``metrics.json`` (written by ``twostream evaluate``), best accuracy first.

    The model column is the file's ``model`` (a fused run's ``fused(<mode>): <rgb arch>+<pose arch>``), else
    its ``arch``."""
    rows = []
    for run_dir in map(Path, run_dirs):
        path = run_dir / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; run `twostream evaluate {run_dir}` first")
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); run `twostream evaluate {run_dir}` again") from exc
        if not isinstance(m, dict):
            raise ValueError(f"{path} holds no metrics object; run `twostream evaluate {run_dir}` again")
        rows.append({"run": str(run_dir), "model": m.get("model") or m.get("arch", run_dir.name),
                     **{k: m.get(k) for k in COMPARE_FIELDS[2:]}})
    return sorted(rows, key=lambda r: -(r["accuracy"] or 0.0))


def write_comparison(rows: list[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """``comparison.md`` (a Markdown table) and ``comparison.csv`` in ``out_dir``: ``COMPARE_FIELDS`` and any
    further columns the rows carry (``fusion.cost.COST_FIELDS``)."""
    out_dir = Path(out_dir)
    fields = list(rows[0])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "" if v is None else str(v)  # noqa: E731
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in fields) + " |" for r in rows]
    md, csv_path = out_dir / "comparison.md", out_dir / "comparison.csv"
    write_text(md, "\n".join(lines) + "\n")
    write_text(csv_path, buf.getvalue())
    return md, csv_path


def write_curves(rows: list[dict[str, Any]], out_dir: str | Path) -> tuple[Path | None, list[str]]:
    """``curves.png`` in ``out_dir``: the training curves of every compared run that has a ``history.csv`` on one
    figure. Returns the path (``None`` when no run has one) and the runs left out (fused runs have no epochs)."""
    from twostream.streams.history import plot_curves, read_history

    histories, skipped = {}, []
    for r in rows:
        path = Path(r["run"]) / "history.csv"
        if path.is_file():
            histories[f"{r['model']} ({Path(r['run']).name})"] = read_history(path)
        else:
            skipped.append(r["run"])
    if not histories:
        return None, skipped
    return plot_curves(histories, Path(out_dir) / "curves.png", title="training curves"), skipped
