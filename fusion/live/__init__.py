"""The live fused demo: a frame source → pose and preprocessing → per-stream ring buffers → inference on a stride
→ the latest smoothed result → annotated frames, a window and a JSON-lines log.

``engine`` wires its four stages: ``ingest`` (pose + preprocessing into the buffers), ``scheduling`` (when a
window is due; the inference thread), ``inference`` (a label per person, smoothed) and ``presentation`` (the
annotated frame out). Their parts: ``buffers`` (rings and hand-over slots), ``capture`` (sources, the capture
thread), ``records`` (config, results, counters and stage timings), ``overlay`` (the annotated canvas) and
``sinks`` (video, log, window). Any run opens with ``fusion.run.load_run``. The engine's public names are
re-exported here: ``from twostream.fusion import live``.
"""

from twostream.fusion.live.engine import LiveEngine
from twostream.fusion.live.records import LiveConfig, LivePrediction, LiveStats, Predictor

__all__ = ["LiveConfig", "LiveEngine", "LivePrediction", "LiveStats", "Predictor"]
