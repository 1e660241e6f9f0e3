"""Untrimmed video → action timeline: windows slid over a video, score curves → segments, and the temporal
detection metric (``twostream timeline``, ``twostream evaluate-detection``)."""
