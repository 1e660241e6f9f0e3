"""Checkpoints that rebuild their model from the file alone, and atomic writes of run files.

A checkpoint is a dict: ``{"model", "arch", "arch_kwargs", "classes", "config", "epoch", "metrics",
"format_version"}`` and ``"sampling"`` (the run's ``datasets.sampling.Sampling`` as a dict; absent in older
files: segment, span unknown), plus ``"optimizer", "scheduler", "scaler", "history", "rng"`` in ``last.pt`` for
``--resume``. ``arch_kwargs`` hold only structural arguments: rebuilding never downloads weights.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from twostream.datasets.sampling import Sampling
from twostream.errors import CheckpointError

FORMAT_VERSION = 1


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` in one step, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # cleanup never hides the first error (read-only, disk full)
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` (with ``format_version`` added) atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({**payload, "format_version": FORMAT_VERSION}, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dict at ``path`` on the CPU; ``CheckpointError`` if it is not a readable twostream one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train a run first (`twostream train`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}); "
                              "pass a last.pt / best.pt written by `twostream train`") from exc
    if not isinstance(ckpt, dict) or "format_version" not in ckpt or "arch" not in ckpt:
        raise CheckpointError(f"{path} is not a twostream checkpoint (no format_version/arch); "
                              "pass a last.pt / best.pt written by `twostream train`")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format_version {ckpt['format_version']!r}; this twostream "
                              f"reads version {FORMAT_VERSION}: retrain, or use the twostream that wrote it")
    return ckpt


def check_matches(ckpt: dict[str, Any], path: str | os.PathLike, *, expect_arch: str | None = None,
                  expect_classes: Sequence[str] | None = None) -> None:
    """``CheckpointError`` if ``ckpt`` is of another architecture or class list than expected."""
    if expect_arch is not None and ckpt["arch"] != expect_arch:
        raise CheckpointError(f"{path} holds a {ckpt['arch']!r} model, not {expect_arch!r}; pick the matching "
                              "--model or another run directory")
    if expect_classes is not None and list(ckpt["classes"]) != list(expect_classes):
        raise CheckpointError(f"{path} was trained on other classes than this data's "
                              f"({class_difference(ckpt['classes'], expect_classes)}); use the same dataset "
                              "and split, or start a new run directory")


def check_same_classes(run_classes: Sequence[str], data_classes: Sequence[str], root: str | os.PathLike) -> None:
    """``CheckpointError`` naming the differing classes when the dataset ``root`` is not the run's."""
    if tuple(run_classes) != tuple(data_classes):
        raise CheckpointError(f"dataset {root} does not have the run's classes "
                              f"({class_difference(run_classes, data_classes)}); pass the dataset the run was "
                              "trained on")


def class_difference(run_classes: Sequence[str], data_classes: Sequence[str], *, limit: int = 5) -> str:
    """What differs between two class lists, naming the classes: ``"only in the run: a, b; only in the data:
    c"``, or ``"same 3 classes in another order: ..."``."""
    run, data = list(run_classes), list(data_classes)
    only_run, only_data = [c for c in run if c not in data], [c for c in data if c not in run]
    if not only_run and not only_data:
        return f"same {len(run)} classes in another order: the run has {', '.join(run[:limit])}, the data " \
               f"{', '.join(data[:limit])}"
    show = lambda names: ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)" if len(names) > limit else "")  # noqa: E731
    parts = [f"only in the run: {show(only_run)}" if only_run else "",
             f"only in the data: {show(only_data)}" if only_data else ""]
    return "; ".join(p for p in parts if p)


def load_model(path: str | os.PathLike, *, expect_arch: str | None = None,
               expect_classes: Sequence[str] | None = None, device: str | torch.device = "cpu"):
    """Rebuild the checkpoint's model by name through the registry, load its weights; returned in eval mode."""
    ckpt = read_checkpoint(path)
    check_matches(ckpt, path, expect_arch=expect_arch, expect_classes=expect_classes)
    return model_from_checkpoint(ckpt, path, device=device)


def model_from_checkpoint(ckpt: dict[str, Any], path: str | os.PathLike, *, device: str | torch.device = "cpu"):
    """The model of a checkpoint dict already read (``read_checkpoint``) from ``path``; returned in eval mode."""
    from twostream.streams.registry import build

    try:
        model = build(ckpt["arch"], **ckpt["arch_kwargs"])
        model.load_state_dict(ckpt["model"])
        model.input_spec = replace(model.input_spec, sampling=Sampling.from_dict(ckpt.get("sampling")))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"cannot rebuild {ckpt['arch']!r} from {path}: {exc}") from exc
    return model.to(device).eval()
