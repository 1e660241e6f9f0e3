"""What a run costs: parameters, FLOPs (torch's counter) and CPU time of one clip, summed over a run's streams."""

from __future__ import annotations

import pytest

from twostream.fusion.cost import streams_cost
from twostream.streams.registry import build


def test_cost_of_the_pixel_mlp_is_its_two_matrix_products():
    model = build("fc", num_classes=3, clip_len=2, size=8, hidden=16)  # 2·3·8·8 = 384 inputs → 16 → 3
    cost = streams_cost([model], repeats=2)
    assert cost.params_m * 1e6 == pytest.approx(384 * 16 + 16 + 16 * 3 + 3)
    assert cost.gflops * 1e9 == pytest.approx(2 * (384 * 16 + 16 * 3))  # a multiply-add counts 2
    assert cost.cpu_ms is not None and cost.cpu_ms > 0


def test_a_fused_runs_streams_add_up_and_timing_can_be_skipped():
    rgb = build("fc", num_classes=3, clip_len=2, size=8, hidden=16)
    pose = build("pose_gru", num_classes=3, clip_len=4, layout="coco17", hidden=8)
    one, other, both = (streams_cost(m, repeats=0) for m in ([rgb], [pose], [rgb, pose]))
    assert both.params_m == pytest.approx(one.params_m + other.params_m)
    assert both.gflops == pytest.approx(one.gflops + other.gflops) and other.gflops > 0  # the GRU is counted
    assert both.cpu_ms is None
    with pytest.raises(ValueError, match="repeats must be >= 0, got -1"):
        streams_cost([rgb], repeats=-1)
