"""The ``--precision`` flag of the commands that run a model (``live``, ``timeline``, ``predict``)."""

from __future__ import annotations

import argparse

from twostream.fusion.backends import PRECISIONS


def add_precision_argument(parser: argparse.ArgumentParser, *, default: str) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help="what the RGB stream computes in: auto = bf16 where the hardware has it natively (a CPU "
                             "with AMX or AVX512-BF16, a CUDA GPU with bf16), else fp32; fp32 gives the scores "
                             "evaluation reports (keypoint streams and ONNX exports always run fp32)")


def describe(predictor) -> str:
    """``"rgb bf16, pose fp32"``: what each stream of a loaded run computes in ("" for a predictor without
    backends)."""
    return ", ".join(f"{role} {backend.precision}" for role, backend in getattr(predictor, "backends", {}).items())
