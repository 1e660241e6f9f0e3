"""How much of the machine a command may take: worker counts capped to the cores this process may use."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a SLURM or container limit), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def capped_workers(requested: int, flag: str, *, note: Callable[[str], None] | None = None) -> int:
    """``requested`` worker processes, capped to ``usable_cores()``; ``note`` hears one line when it was capped.

    A negative count is a ``ValueError`` naming ``flag``; 0 stays 0 (work in this process)."""
    if requested < 0:
        raise ValueError(f"{flag} must be >= 0, got {requested}")
    cores = usable_cores()
    if requested > cores:
        if note is not None:
            note(f"{flag} {requested} capped to {cores}: this machine has {cores} usable core(s), and more "
                 "processes only add memory and contention")
        return cores
    return requested


def die_with_parent() -> None:
    """Pool-worker initializer: on Linux the kernel kills this worker when its parent dies (even by SIGKILL),
    so a killed ``extract`` leaves no orphaned workers holding memory. Elsewhere a no-op."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file ``path`` for the ``with`` block; when another process holds
    it, a ``TwostreamError`` naming ``what`` and that process's pid. The lock dies with its process; the
    file is left behind (empty of meaning once unlocked)."""
    import fcntl

    from twostream.errors import TwostreamError

    path = Path(path)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise TwostreamError(f"{what} is already running (pid {holder}, lock {path}); wait for it to finish, "
                                 "or split the work with --shard I/N") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield  # the file stays (unlinking it would let a third process lock a fresh inode beside a holder)
