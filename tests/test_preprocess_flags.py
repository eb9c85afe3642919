"""The no-face policy on a hand-made sequence."""

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.preprocess.flags import apply_flag_policy
from g2rl.preprocess.landmarks import LANDMARK_COLUMNS, X_COLUMNS


def _seq(success):
    n = len(success)
    coords = np.where(np.asarray(success, bool)[:, None], np.arange(n, dtype=float)[:, None], np.nan)
    df = pd.DataFrame(np.repeat(coords, 136, axis=1), columns=LANDMARK_COLUMNS[3:])  # coordinate = frame number
    df.insert(0, "detector_score", np.where(success, 1.0, np.nan))
    df.insert(0, "success", success)
    df.insert(0, "frame", np.arange(n))
    return df


def test_counts_and_carry():
    #        frame: 0  1  2  3  4  5  6  7  8  9 10
    success = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    df, counts = apply_flag_policy(_seq(success), max_gap=2)
    assert counts == {"frames": 11, "detected": 3, "carried": 7, "missing": 1}
    expected = ["carried", "detected", "carried", "carried", "detected", "carried", "carried",
                "missing", "carried", "carried", "detected"]
    assert df["landmark_source"].tolist() == expected
    # carried frames take the nearest detected frame's landmarks
    x = df[X_COLUMNS[0]].to_numpy()
    assert x[0] == 1 and x[2] == 1 and x[3] == 4 and x[5] == 4 and x[6] == 4 and x[8] == 10 and x[9] == 10
    assert np.isnan(x[7])


def test_tie_prefers_earlier_frame():
    df, counts = apply_flag_policy(_seq([1, 0, 1]), max_gap=1)
    assert df[X_COLUMNS[0]].iloc[1] == 0
    assert counts["carried"] == 1


def test_max_gap_zero_carries_nothing():
    _, counts = apply_flag_policy(_seq([1, 0, 0, 1]), max_gap=0)
    assert counts == {"frames": 4, "detected": 2, "carried": 0, "missing": 2}


def test_no_face_at_all_is_an_error():
    with pytest.raises(G2RLError, match="SN001.avi"):
        apply_flag_policy(_seq([0, 0, 0]), max_gap=5, name="SN001.avi")
