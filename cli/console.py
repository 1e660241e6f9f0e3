"""The one rich console the commands print through (library code returns values and never prints)."""

from __future__ import annotations

import re
from urllib.error import URLError

from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def one_line(exc: BaseException) -> str:
    """The user-facing line of ``exc``: an ``OSError`` as path + reason + fix, an error re-raised from a
    DataLoader worker unwrapped to its original message (torch wraps it in "Caught X in DataLoader worker
    process 0" and the worker's traceback), newlines folded."""
    from twostream.paths import describe_os_error

    if isinstance(exc, URLError):  # only MediaPipe downloads on demand (torch weights raise WeightsError)
        return (f"a download failed ({exc.reason}): this machine seems offline; use what is installed (MediaPipe: "
                "--pose-model full, built from its wheel)")
    if isinstance(exc, OSError) and exc.strerror:
        return describe_os_error(exc)
    text = str(exc) or type(exc).__name__
    if "Original Traceback" in text:
        found = list(re.finditer(rf"^(?:[\w.]+\.)?{type(exc).__name__}: ", text, re.M))
        text = text[found[-1].end():] if found else text
    return " ".join(text.split())


def error(message: str) -> None:
    """One line, no traceback: the message already names the file or value and the fix. Printed verbatim
    (``[id]`` in a file name is not rich markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
