"""`twostream export`: a run's streams as ONNX (+ export.json), checked against PyTorch with onnxruntime."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from twostream.cli.console import console

HELP = "Export a training or fused run to ONNX (rgb.onnx, pose.onnx, export.json) for onnxruntime and live."

TOLERANCE = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="training run (best.pt) or fused run (fusion.json)")
    parser.add_argument("--onnx", required=True, metavar="OUT_DIR", help="folder to write the ONNX export into")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (9-20)")
    parser.add_argument("--overwrite", action="store_true", help="replace an export already in OUT_DIR")


def run(args: argparse.Namespace) -> int:
    from twostream.fusion.export import export_onnx
    from twostream.paths import prepare_run_dir

    prepare_run_dir(args.onnx, inputs=[args.run_dir], overwrite=args.overwrite, flag="--onnx")

    with console.status("exporting to ONNX ..."):
        result = export_onnx(args.run_dir, args.onnx, opset=args.opset)
    table = Table(title=f"ONNX export → {escape(str(result.out_dir))}")
    for column in ("stream", "file", "max |ort - torch|", "check"):
        table.add_column(column)
    worst = 0.0
    for key, path in result.files.items():
        diff = result.max_abs_diff[key]
        worst = max(worst, diff)
        table.add_row(key, path.name, f"{diff:.2e}", "[green]ok[/]" if diff <= TOLERANCE else "[red]differs[/]")
    console.print(table)
    console.print(f"run it live: twostream live {result.out_dir} --source 0", highlight=False, markup=False)
    return 0 if worst <= TOLERANCE else 1
