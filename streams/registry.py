"""Stream models built by name: ``register`` a builder, ``build(name, **kwargs)``, list ``available()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from twostream.streams.base import Stream

_STREAMS: dict[str, Callable[..., "Stream"]] = {}


def register(fn: Callable[..., "Stream"]) -> Callable[..., "Stream"]:
    """Decorator: make ``fn`` buildable under its own name (``fn.__name__``)."""
    if fn.__name__ in _STREAMS:
        raise ValueError(f"stream {fn.__name__!r} is already registered")
    _STREAMS[fn.__name__] = fn
    return fn


def _load_builtin() -> None:
    # Importing the builder modules registers them; lazily, so `registry` stays free of torch at import time.
    import importlib
    import importlib.util

    for module in ("twostream.streams.rgb", "twostream.streams.video_transformers", "twostream.streams.keypoint",
                   "twostream.streams.keypoint_stgcnpp", "twostream.streams.pose_transformer"):
        if importlib.util.find_spec(module) is not None:  # a partial checkout may lack one
            importlib.import_module(module)


def available() -> list[str]:
    """The registered model names, sorted."""
    _load_builtin()
    return sorted(_STREAMS)


def build(name: str, **kwargs) -> "Stream":
    """Build the stream registered as ``name`` with the builder's keyword arguments."""
    return builder(name)(**kwargs)


def builder(name: str) -> Callable[..., "Stream"]:
    """The builder function registered as ``name`` (to inspect which keyword arguments it takes)."""
    _load_builtin()
    if name not in _STREAMS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_STREAMS))}")
    return _STREAMS[name]
