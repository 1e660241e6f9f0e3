"""`twostream trim`: not implemented yet."""

from __future__ import annotations

import argparse

from twostream.errors import TwostreamError

HELP = "(not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise TwostreamError("`twostream trim` is not implemented yet")
