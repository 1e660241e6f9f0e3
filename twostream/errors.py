"""The one exception family the command line reports as a one-line message (no traceback)."""

from __future__ import annotations


class TwostreamError(Exception):
    """A problem the user can fix: the message names the file or value and says what to do."""


class VideoReadError(TwostreamError):
    """A video that cannot be opened or decoded (missing, empty, truncated, corrupt)."""


class CacheError(TwostreamError):
    """A keypoint cache that is missing, stale, corrupt or of an unknown format version."""


class CheckpointError(TwostreamError):
    """A checkpoint or run directory that does not match what was asked for."""


class WeightsError(TwostreamError):
    """Pretrained weights that cannot be found or loaded (for example offline with an empty cache)."""


class OutputError(TwostreamError):
    """An output path that would overwrite an input or an earlier result, or that cannot be written."""
