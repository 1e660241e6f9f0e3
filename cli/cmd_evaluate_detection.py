"""`twostream evaluate-detection GT.json RESULTS.json`: ActivityNet's temporal detection mAP at tIoU 0.5:0.95."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "mAP of temporal action segments at tIoU 0.5, 0.55, ..., 0.95 (ActivityNet's protocol); detection-metrics.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", type=Path, metavar="GT.json",
                        help='ActivityNet annotations: {"database": {id: {"subset", "annotations": [...]}}}')
    parser.add_argument("results", type=Path, metavar="RESULTS.json",
                        help='detections: {"results": {id: [{"label", "score", "segment"}]}} (timeline writes it)')
    parser.add_argument("--subset", default=None, help="evaluate only ground-truth videos of this subset, e.g. test")
    parser.add_argument("--out", type=Path, default=None,
                        help="where detection-metrics.json goes (default: beside RESULTS.json)")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from twostream.cli.console import console, warn
    from twostream.fusion.timeline.detection import evaluate_files
    from twostream.paths import check_output_file
    from twostream.streams.checkpoint import write_text

    out = args.out if args.out is not None else args.results.parent / "detection-metrics.json"
    check_output_file(out, inputs=[args.ground_truth, args.results], flag="--out")  # derived: rewriting is fine
    metrics = evaluate_files(args.ground_truth, args.results, subset=args.subset)
    shown = (0.5, 0.75, 0.95)
    table = Table("class", "GT", "detections", *(f"AP@{t:g}" for t in shown), "average AP",
                  title=f"temporal detection, {args.results.name} vs {args.ground_truth.name}"
                        + (f" ({args.subset})" if args.subset else ""))
    for i, label in enumerate(metrics.classes):
        table.add_row(label, str(metrics.num_ground_truth[label]), str(metrics.num_detections[label]),
                      *(f"{metrics.ap[i, metrics.thresholds.index(t)]:.3f}" for t in shown),
                      f"{metrics.ap[i].mean():.3f}")
    table.add_section()
    table.add_row("[bold]mAP[/]", str(sum(metrics.num_ground_truth.values())),
                  str(sum(metrics.num_detections.values())),
                  *(f"[bold]{metrics.map_at(t):.3f}[/]" for t in shown), f"[bold]{metrics.average_map:.3f}[/]")
    console.print(table)
    console.print("mAP per tIoU: " + "  ".join(f"{t:.2f}: {m:.3f}" for t, m in
                                               zip(metrics.thresholds, metrics.map_per_threshold)), highlight=False)
    if metrics.ignored_videos:
        warn(f"{metrics.ignored_videos} detections are on videos the ground truth does not list (left out)")
    if metrics.ignored_labels:
        warn("detections of labels the ground truth never uses (left out): "
             + ", ".join(f"{k} ({v})" for k, v in sorted(metrics.ignored_labels.items())))
    write_text(out, json.dumps({"ground_truth": str(args.ground_truth), "results": str(args.results),
                                "subset": args.subset, **metrics.to_dict()}, indent=2))
    console.print(f"wrote {out}", highlight=False)
    return 0
