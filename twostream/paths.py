"""Where a command may write: the checks every command makes before any work, so that nothing the user made is
overwritten by accident and a path that cannot be written fails in one line before the first video is read.

- ``check_output_file(path, inputs=..., overwrite=...)``: a file a command writes (an annotated video, a log).
- ``check_output_dir(path, inputs=...)``: a folder a command writes named files into (``compare --out``).
- ``prepare_run_dir(path, inputs=..., resume=..., overwrite=...)``: a run directory (``train --out``, ``fuse
  --out``, ``export --onnx``): an existing run is refused unless ``resume`` / ``overwrite``; ``overwrite``
  removes the old run's files, and any new checkpoint removes the files derived from the old ones
  (``metrics.json``, ``confusion.*``, plots), so ``compare`` never reports an old model's accuracy for a new one.
- ``check_new_dataset(path, overwrite=...)``: a dataset folder a generator writes (``synth``).

Every check compares the output with every input as files (``os.path.samefile`` after links, else the resolved
paths), so ``--output clip.mp4 --source clip.mp4`` or ``--log`` pointed at the video is refused. The errors are
``OutputError`` (a ``TwostreamError``): the CLI prints them as one line, exit 2. ``describe_os_error`` turns an
``OSError`` (read-only, disk full, a folder where a file should be) into that one line too.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterable

from twostream.errors import OutputError

PathLike = str | os.PathLike

RUN_MARKERS: tuple[str, ...] = ("config.json", "last.pt", "best.pt", "fusion.json", "export.json")
"""A folder holding any of these is a run (training, fused or ONNX export)."""
RUN_FILES: tuple[str, ...] = RUN_MARKERS + ("history.csv", "rgb.pt", "pose.pt", "rgb.onnx", "pose.onnx")
"""The files a run's own command writes; ``overwrite`` removes them."""
DERIVED_FILES: tuple[str, ...] = ("metrics.json", "confusion.csv", "per_class.csv")
"""Files computed from a run's checkpoints (``evaluate``); every ``*.png`` in a run is derived too."""


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file or folder (hard or symbolic links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare what the names resolve to
        return Path(a).resolve() == Path(b).resolve()


def _is_url_or_camera(text: str) -> bool:
    return text.isdigit() or "://" in text


def check_not_input(output: PathLike, inputs: Iterable[PathLike | None], *, flag: str = "output") -> None:
    """``OutputError`` when ``output`` is one of ``inputs`` (camera indices and URLs are skipped)."""
    out = Path(output)
    for item in inputs:
        if item is None or _is_url_or_camera(str(item)):
            continue
        if same_file(out, item):
            raise OutputError(f"{flag} {output} is the input {item}; writing it would destroy the input: "
                              "choose another path")


def _check_parent_writable(path: Path, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a folder we may write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{flag} {path}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {path}: cannot write into {parent} (read-only or no permission); "
                          "choose a writable folder")


def check_output_file(path: PathLike, *, inputs: Iterable[PathLike | None] = (), overwrite: bool = True,
                      flag: str = "output") -> Path:
    """Check a file about to be written; returns it as a ``Path``.

    Refused: the same file as an input; an existing folder; a parent that is a file or not writable; an
    existing file unless ``overwrite``."""
    path = Path(path)
    check_not_input(path, inputs, flag=flag)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file name inside it, e.g. {path / 'out'}")
    if path.exists() and not overwrite:
        raise OutputError(f"{flag} {path} already exists; pass --overwrite to replace it or choose another path")
    _check_parent_writable(path, flag)
    return path


def check_output_dir(path: PathLike, *, inputs: Iterable[PathLike | None] = (), flag: str = "output") -> Path:
    """Check a folder that named files are about to be written into (created when missing)."""
    path = Path(path)
    check_not_input(path, inputs, flag=flag)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path} is a file, not a folder; give a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"{flag} {path}: cannot write into it (read-only or no permission); choose a "
                              "writable folder")
    else:
        _check_parent_writable(path / "x", flag)
    return path


def is_run_dir(path: PathLike) -> bool:
    return any((Path(path) / name).exists() for name in RUN_MARKERS)


def remove_derived(run_dir: PathLike) -> list[Path]:
    """Delete the files computed from a run's checkpoints (metrics, confusion matrices, plots); returns them."""
    run_dir = Path(run_dir)
    stale = [run_dir / name for name in DERIVED_FILES] + sorted(run_dir.glob("*.png"))
    removed = [p for p in stale if p.is_file()]
    for p in removed:
        p.unlink()
    return removed


def prepare_run_dir(path: PathLike, *, inputs: Iterable[PathLike | None] = (), resume: bool = False,
                    overwrite: bool = False, resumable: bool = False, flag: str = "--out") -> Path:
    """Make ``path`` ready to hold a new (or resumed) run; returns it.

    A missing or empty folder is used as is. An existing run is refused unless ``resume`` (continue it: its
    derived files are removed, the checkpoints will change) or ``overwrite`` (its files, derived ones included,
    are removed first). A non-empty folder that is no run (a dataset, say) is always refused. ``resume`` on a
    folder with no ``last.pt`` is refused; ``resumable`` says whether the command has ``--resume`` to offer."""
    path = check_output_dir(path, inputs=inputs, flag=flag)
    if resume and overwrite:
        raise OutputError("--resume continues a run and --overwrite replaces it; pass one of them")
    if resume:
        if not (path / "last.pt").is_file():
            raise OutputError(f"nothing to resume: {path / 'last.pt'} does not exist; drop --resume to start a new "
                              "run there")
        remove_derived(path)
        return path
    if not path.is_dir() or not any(path.iterdir()):
        return path
    if not is_run_dir(path):
        shown = ", ".join(sorted(p.name for p in path.iterdir())[:3])
        raise OutputError(f"{flag} {path} is a folder that holds other files ({shown}, …), not a run; choose a new "
                          "or empty folder")
    if not overwrite:
        resume_hint = "--resume to continue it, " if resumable else ""
        raise OutputError(f"{flag} {path} already holds a run; pass {resume_hint}--overwrite to replace it, or "
                          "choose another folder")
    for name in RUN_FILES:
        if (path / name).is_file():
            (path / name).unlink()
    remove_derived(path)
    return path


def check_new_dataset(path: PathLike, *, overwrite: bool = False, flag: str = "OUT") -> Path:
    """A folder a dataset generator writes into: refused when it already holds files, unless ``overwrite``."""
    path = check_output_dir(path, flag=flag)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"{flag} {path} already exists and is not empty; pass --overwrite to write the dataset "
                          "over it or choose a new folder")
    return path


_HINTS = {
    errno.ENOSPC: "the disk is full: free space and run again",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "no permission: choose a folder you may write, or fix its permissions",
    errno.EPERM: "not permitted: choose another path",
    errno.EISDIR: "it is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "it does not exist: check the path",
    errno.EEXIST: "it already exists: choose another path",
}


def describe_os_error(exc: OSError) -> str:
    """One line naming the path, what went wrong and what to do, for any ``OSError``."""
    where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    what = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno or -1)
    return f"{where + ': ' if where else ''}{what}" + (f"; {hint}" if hint else "")
