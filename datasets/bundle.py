"""``DatasetBundle``: what every dataset builder returns — train / validation / test over one class list."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch.utils.data import Dataset

from twostream.datasets.sampling import Sampling


class DatasetBundle(NamedTuple):
    """Train / validation / test datasets over one class list; ``val`` may be None or empty."""

    classes: tuple[str, ...]
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    dropped: tuple[str, ...] = ()
    """Videos left out because they could not be read (relative paths), to be reported to the user."""
    meta: dict[str, Any] | None = None
    """Where the data came from (``root``, ``split``, …, and the exact ``videos`` lists of a folder dataset),
    recorded in the run's ``config.json``."""
    unlisted: tuple[str, ...] = ()
    """With frozen ``videos`` lists: videos under the root that no list names (added since), left out."""
    sampling: Sampling | None = None
    """``spec.sampling`` fitted to the training videos or sequences (``Sampling.measured``: their fps when known,
    segment spans in seconds, an automatic dense K): the run's time scale, for ``InputSpec.sampling``."""
