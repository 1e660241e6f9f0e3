"""Pretrained weights: torchvision weight enums through torch hub's cache, or a local ``--weights FILE``.

Offline with nothing cached raises ``WeightsError`` naming the expected file, the cache directory and the two
flags that avoid the download (``--no-pretrained``, ``--weights FILE``). Set ``TWOSTREAM_OFFLINE=1`` to never
try the network (only the cache is read).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from twostream.errors import WeightsError

_AVOID = "pass --no-pretrained to train from scratch, or --weights FILE to load a local state dict"


def cache_dir() -> Path:
    """Where torch hub keeps downloaded weights: ``$TORCH_HOME/hub/checkpoints`` (``torch.hub.get_dir()``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def expected_file(weights: Any) -> Path:
    """The cached file of a torchvision weights enum, e.g. ``.../checkpoints/r3d_18-b3b3357e.pth``."""
    return cache_dir() / Path(weights.url).name


def load_pretrained(weights: Any) -> dict[str, torch.Tensor]:
    """State dict of a torchvision weights enum (e.g. ``R3D_18_Weights.KINETICS400_V1``), from the cache if there."""
    path = expected_file(weights)
    if path.is_file():
        return _read(path)
    if os.environ.get("TWOSTREAM_OFFLINE", "") not in ("", "0"):
        raise WeightsError(f"pretrained weights {weights} are not cached: expected {path} in {cache_dir()} "
                           f"(TWOSTREAM_OFFLINE is set); {_AVOID}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # torch hub prints "Downloading: ..."; our error says it all
            return torch.hub.load_state_dict_from_url(weights.url, model_dir=str(cache_dir()), progress=False,
                                                      map_location="cpu", weights_only=True)
    except Exception as exc:  # URLError, socket timeouts, SSL: all mean "could not download"
        raise WeightsError(f"cannot download pretrained weights {weights} ({type(exc).__name__}: {exc}); "
                           f"expected {path} in {cache_dir()}; {_AVOID}") from exc


def load_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A local state dict: a torchvision backbone's, or a twostream checkpoint (its ``"model"`` entry)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist; {_AVOID}")
    state = _read(path)
    if isinstance(state, dict) and "format_version" in state and "model" in state:
        state = state["model"]  # a twostream checkpoint
    elif isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # common wrapper (mmaction2, lightning)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict (name → tensor) nor a twostream checkpoint")
    return state


def load_into(model: nn.Module, state: dict[str, torch.Tensor], *, backbone_prefix: str = "backbone.",
              source: str = "weights") -> int:
    """Copy the tensors of ``state`` whose names and shapes match into ``model``; returns how many matched.

    ``state`` may be the whole model's (a twostream checkpoint) or only the backbone's (a torchvision state
    dict, whose names lack ``backbone_prefix``): the reading with more matches wins. Tensors whose shape differs
    (a classifier for another class count) are skipped, so a checkpoint can seed a run on other classes.
    """
    target = model.state_dict()
    readings = ({k: v for k, v in state.items()},
                {backbone_prefix + k: v for k, v in state.items()})
    matches = [{k: v for k, v in r.items() if k in target and target[k].shape == v.shape} for r in readings]
    best = max(matches, key=len)
    if not best:
        raise WeightsError(f"no tensor of {source} matches {type(model).__name__} "
                           f"(first names: {', '.join(list(state)[:3])}); is it the right architecture?")
    model.load_state_dict(best, strict=False)
    return len(best)


def _read(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
