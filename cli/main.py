"""Entry point of the `twostream` command: builds the parser from the command modules and reports errors.

Each command lives in its own module ``twostream.cli.cmd_<name>`` exposing

    HELP: str                                  # one line, shown by `twostream --help`
    def add_arguments(parser) -> None          # the command's flags
    def run(args: argparse.Namespace) -> int   # parse → build config → call the library; returns the exit code

so that adding a command is adding a module and one name to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from twostream import __version__
from twostream.errors import TwostreamError

# Order as shown in --help: the user's journey from data to the live demo.
COMMANDS: tuple[str, ...] = (
    "quickstart",
    "synth",
    "extract",
    "pose_show",
    "trim",
    "train",
    "evaluate",
    "predict",
    "compare",
    "fuse",
    "live",
    "export",
    "timeline",
    "evaluate_detection",
)

USER_ERRORS = (TwostreamError, ValueError, OSError)
"""Printed as one line, exit 2: the message names the file or value and the fix (OSError: the path and errno)."""


def _quiet_native_logs() -> None:
    # MediaPipe / TensorFlow Lite print absl and glog chatter to stderr; users asked for a progress bar, not that.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for on/off switches (``--no-flip (default: True)`` reads as the opposite)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twostream",
        description="Recognise human actions in video from pixels and body keypoints, fused late.",
    )
    parser.add_argument("--version", action="version", version=f"twostream {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"twostream.cli.cmd_{name}")
        command = sub.add_parser(
            name.replace("_", "-"), help=module.HELP, description=module.HELP,
            formatter_class=_HelpFormatter,
        )
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show full tracebacks on errors")
        module.add_arguments(command)
        command.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is one line; --debug shows the traceback
        if args.debug:
            raise
        from twostream.cli.console import error, one_line

        if isinstance(exc, USER_ERRORS):
            error(one_line(exc))
            return 2
        error(f"unexpected {type(exc).__name__}: {one_line(exc)} (run again with --debug for the traceback, and "
              "report it)")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
