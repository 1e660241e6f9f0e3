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
        if os.path.exists(tmp):
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
        theirs, ours = list(ckpt["classes"]), list(expect_classes)
        diff = sorted(set(theirs) ^ set(ours))[:5]
        raise CheckpointError(f"{path} was trained on {len(theirs)} classes, this data has {len(ours)} "
                              f"(differing: {', '.join(diff) or 'same names, other order'}); use the same dataset "
                              "and split, or start a new run directory")


def load_model(path: str | os.PathLike, *, expect_arch: str | None = None,
               expect_classes: Sequence[str] | None = None, device: str | torch.device = "cpu"):
    """Rebuild the checkpoint's model by name through the registry, load its weights; returned in eval mode."""
    from twostream.streams.registry import build

    ckpt = read_checkpoint(path)
    check_matches(ckpt, path, expect_arch=expect_arch, expect_classes=expect_classes)
    try:
        model = build(ckpt["arch"], **ckpt["arch_kwargs"])
        model.load_state_dict(ckpt["model"])
        model.input_spec = replace(model.input_spec, sampling=Sampling.from_dict(ckpt.get("sampling")))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"cannot rebuild {ckpt['arch']!r} from {path}: {exc}") from exc
    return model.to(device).eval()
