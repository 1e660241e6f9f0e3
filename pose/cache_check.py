"""A dataset's keypoint caches checked once, before any work: every unusable cache found and reported together.

``check_caches(videos)`` opens each video's ``.pose.npz`` (present, readable, of this format, made from this very
video by size and mtime or content digest, so a ``cp -r`` copy stays fresh; of a usable joint layout) and returns
one ``CacheProblem`` per bad one; ``describe_problems`` turns them into one line with the command that fixes
them all. Training and evaluation call it when their datasets are built, so a bad cache never surfaces
mid-epoch inside a DataLoader worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Container, Iterable, Literal

from twostream.errors import CacheError
from twostream.pose.cache import cache_path_for, load_cache, stamp_matches

Kind = Literal["missing", "unreadable", "stale", "layout"]
ON_BAD_CACHE = ("fail", "skip", "extract")
"""What a dataset builder does with bad caches: stop with the list (default), leave those videos out (reported),
or extract them now and go on."""


@dataclass(frozen=True)
class CacheProblem:
    video: Path
    kind: Kind
    reason: str


def check_cache(video: str | Path, *, layouts: Container[str] | None = None) -> CacheProblem | None:
    """The problem with ``video``'s cache, or None when it is usable. Its person slots are not checked: a cache
    with fewer than the model reads is valid (absent persons are zeros), and ``load_cache`` checks the shapes."""
    video, path = Path(video), cache_path_for(video)
    if not path.is_file():
        return CacheProblem(video, "missing", f"no cache {path.name}")
    try:
        cache = load_cache(path)
    except CacheError as exc:
        return CacheProblem(video, "unreadable", str(exc).split(";")[0])
    if not stamp_matches(cache, video):
        return CacheProblem(video, "stale", f"{path.name} was made from another version of the video")
    if layouts is not None and cache.layout not in layouts:
        return CacheProblem(video, "layout", f"{path.name} holds {cache.layout} joints, the model reads "
                                             f"{', '.join(sorted(layouts))}")
    return None


def check_caches(videos: Iterable[str | Path], *, layouts: Container[str] | None = None) -> list[CacheProblem]:
    """One ``CacheProblem`` per video whose cache is unusable, in the order given."""
    return [p for p in (check_cache(v, layouts=layouts) for v in videos) if p is not None]


def describe_problems(problems: list[CacheProblem], root: str | Path, total: int, *, shown: int = 10) -> str:
    """One line: how many caches are bad, each (video: reason), and the one command that fixes them."""
    force = " --force" if any(p.kind != "missing" for p in problems) else ""
    listed = "; ".join(f"{p.video}: {p.reason}" for p in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return (f"{len(problems)} of {total} keypoint caches are unusable ({listed}{more}); fix them all with "
            f"`twostream extract {root}{force}`, or pass --on-bad-cache skip|extract")


def screen_split(split, root: str | Path, *, on_bad_cache: str = "fail", layouts: Container[str] | None = None,
                 parts: tuple[str, ...] = ("train", "val", "test")):
    """``(split, dropped)``: a ``datasets.splits.Split`` whose every video has a usable cache.

    ``on_bad_cache``: ``"fail"`` raises one ``CacheError`` listing every bad cache; ``"skip"`` leaves those videos
    out and returns their relative paths as ``dropped``; ``"extract"`` extracts them now (MediaPipe, in this
    process) and fails only on what is still bad. Only the ``parts`` of the split that will be read are checked
    (fusion reads ``("val",)`` only)."""
    from dataclasses import replace

    if on_bad_cache not in ON_BAD_CACHE:
        raise ValueError(f"on_bad_cache must be one of {', '.join(ON_BAD_CACHE)}, got {on_bad_cache!r}")
    items = tuple(item for name in parts for item in getattr(split, name))
    problems = check_caches((i.path for i in items), layouts=layouts)
    if problems and on_bad_cache == "extract":
        from twostream.pose.extract import ExtractConfig, process_video

        config = ExtractConfig(workers=1, force=True)
        for p in problems:
            process_video(p.video, p.video.name, config)
        problems = check_caches((p.video for p in problems), layouts=layouts)
    if not problems:
        return split, ()
    if on_bad_cache != "skip":
        raise CacheError(describe_problems(problems, root, len(items)))
    bad = {p.video for p in problems}
    kept = {name: tuple(i for i in getattr(split, name) if i.path not in bad) for name in parts}
    return replace(split, **kept), tuple(sorted(i.rel for i in items if i.path in bad))
