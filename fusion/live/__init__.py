"""The live fused demo: a frame source → pose and preprocessing → per-stream ring buffers → inference on a stride
→ the latest smoothed result → annotated frames, a window and a JSON-lines log.

``engine`` drives it; ``buffers`` (rings and hand-over slots), ``capture`` (sources, the capture thread),
``records`` (config, results, counters), ``overlay`` (the annotated canvas) and ``sinks`` (video, log, window)
are its parts. Any run opens with ``fusion.run.load_run``. The engine's public names are re-exported here: ``from twostream.fusion import live``.
"""

from twostream.fusion.live.engine import LiveEngine
from twostream.fusion.live.records import LiveConfig, LivePrediction, LiveStats, Predictor

__all__ = ["LiveConfig", "LiveEngine", "LivePrediction", "LiveStats", "Predictor"]
