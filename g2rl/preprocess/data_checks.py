"""Checks of the data where it is used: labels present for every AU, subjects in one split only.

A frame index or a cache can be edited, damaged or built from a partial copy after the readers
checked it, so the stages that use the data check it again, each on what it holds:

* :func:`check_au_labels`: a set of frames (a whole index for ``g2rl cache crops``, a crops file
  for ``g2rl cache heatmaps``, a fold's training or test rows for ``g2rl train``) with no labelled
  frame for an AU it claims is an error naming the file and the AU (a model would learn that AU
  from nothing, or be scored on nothing); fewer than :data:`SMALL_LABELLED_SHARE` of its frames
  labelled is a warning with the count.
* :func:`check_split_membership`: every subject of a crops file in exactly one split, so that a
  fold's training and test rows share no subject (a split edited into the cache would leak).

:func:`check_training_rows` runs both on a fold's rows, as ``g2rl train`` selects them. (This module
sits above :mod:`g2rl.preprocess.cache`, which therefore does not call it: the commands do.)
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError

_log = logging.getLogger(__name__)

# Below this share of labelled frames for an AU, a set of frames gets a warning with the count. BP4D
# marks a frame it did not code with 9 (read as unlabelled); in the FERA 2015 intensity subset that is a
# few per cent of the frames, so a tenth labelled means a partial or damaged copy, not the dataset.
SMALL_LABELLED_SHARE = 0.10


def check_au_labels(labels: np.ndarray, aus: Sequence[str], source: str, what: str) -> None:
    """Raise :class:`G2RLError` when a column of ``labels`` has no finite value; warn when fewer than
    :data:`SMALL_LABELLED_SHARE` of its rows have one.

    Args:
        labels: (N, K) intensities, NaN = not labelled (the frame index's AU columns, a cache's
            ``intensities``).
        aus: the K AU names, in column order.
        source: the file the labels come from (the message starts with it).
        what: which frames these are, e.g. ``"the training rows (test split 1)"``.
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(len(labels), len(aus))
    n = len(labels)
    counts = np.isfinite(labels).sum(axis=0)
    empty = [au for au, c in zip(aus, counts) if c == 0]
    if n and empty:
        raise G2RLError(f"{source}: {what} hold no labelled frame for {', '.join(empty)} (all {n} frames "
                        f"unlabelled); a model cannot be trained or scored on an AU without labels: check the "
                        f"label files (or remove the AU from the AU list)")
    for au, c in zip(aus, counts):
        if n and c < SMALL_LABELLED_SHARE * n:
            _log.warning("%s: %s hold only %d labelled frames of %d for %s (%.1f %%)", source, what, c, n, au,
                         100 * c / n)


def check_split_membership(keys: pd.DataFrame, source: str) -> None:
    """Raise :class:`G2RLError` naming a subject whose rows carry two splits (``keys``: one row per
    cache row with ``subject`` and ``split``): that subject would be trained and tested on."""
    from g2rl.datasets.frame_index import check_one_split_per_subject
    from g2rl.errors import DatasetLayoutError

    try:
        check_one_split_per_subject(keys[["subject", "split"]].astype(str), source)
    except DatasetLayoutError as exc:
        raise G2RLError(f"{exc}; the training would include frames of a test subject (rebuild the cache from "
                        "a checked frame index)") from None


def check_training_rows(keys: pd.DataFrame, labels: np.ndarray, aus: Sequence[str], train_rows: np.ndarray,
                        test_rows: np.ndarray, test_split: str, source: str | os.PathLike) -> None:
    """The checks of a fold where ``g2rl train`` selects it: no subject in two splits, no AU without
    labels in the training rows or in the test rows.

    keys: the crops file's keys (``subject``, ``split``), one row per cache row; labels: its
    ``intensities`` (N, K); train_rows / test_rows: the fold's cache rows; source: the crops file.
    """
    source = os.fspath(source)
    check_split_membership(keys, source)
    labels = np.asarray(labels)
    check_au_labels(labels[np.asarray(train_rows)], aus, source, f"the training rows (all but split {test_split})")
    check_au_labels(labels[np.asarray(test_rows)], aus, source, f"the test rows (split {test_split})")


def read_cache_labels(crops_h5: str | os.PathLike) -> np.ndarray:
    """The ``intensities`` (N, K) float32 of a crops file, validated and read with damage named."""
    from g2rl.preprocess.cache import validate_crops_file
    from g2rl.preprocess.h5read import open_h5, read_rows

    with open_h5(crops_h5) as f:
        validate_crops_file(f, crops_h5)
        return read_rows(f["intensities"], slice(0, f["intensities"].shape[0]), crops_h5)
