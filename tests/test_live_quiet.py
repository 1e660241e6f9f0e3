"""MediaPipe / TFLite start-up chatter never reaches the user's terminal; real errors still do."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from twostream.pose.mediapipe_tasks import is_chatter, quiet_native_stderr

_CHATTER = [
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "W0000 00:00:1795641030.899011   25643 inference_feedback_manager.cc:114] Feedback manager requires a model\n",
    "W0000 00:00:1795641031.018705   25642 landmark_projection_calculator.cc:186] Using NORM_RECT without ...\n",
    "I0000 00:00:1795641031.018705   25642 gl_context.cc:357] GL version: 3.2\n",
]
_REAL = [
    "E0000 00:00:1795641031.018705   25642 calculator_graph.cc:887] INTERNAL: model file not found\n",
    "Traceback (most recent call last):\n",
    "RuntimeError: something real\n",
]


def test_only_info_and_warning_noise_counts_as_chatter():
    assert all(is_chatter(line) for line in _CHATTER)
    assert not any(is_chatter(line) for line in _REAL)


def test_native_chatter_is_dropped_and_real_lines_written_back(capfd):
    with quiet_native_stderr():
        os.write(2, "".join(_CHATTER[:2] + _REAL[:1] + _CHATTER[2:] + _REAL[1:]).encode())
    err = capfd.readouterr().err
    assert err == "".join(_REAL)


def test_stderr_is_restored_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError, match="boom"):
        with quiet_native_stderr():
            os.write(2, _CHATTER[0].encode() + _REAL[0].encode())
            raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == _REAL[0] + "after\n"


def test_a_real_estimator_prints_no_chatter(capfd):
    cv2 = pytest.importorskip("cv2")
    from twostream.pose.backends import open_estimator

    clips = sorted(Path("/work/shared/data/clips").glob("ta_chi.mp4"))
    frame = (cv2.cvtColor(cv2.VideoCapture(str(clips[0])).read()[1], cv2.COLOR_BGR2RGB) if clips
             else np.full((120, 160, 3), 127, np.uint8))
    with open_estimator() as estimator:
        for i in range(3):
            estimator.process(frame, i * 33)
    err = capfd.readouterr().err
    assert "W0000" not in err and "XNNPACK" not in err, err
