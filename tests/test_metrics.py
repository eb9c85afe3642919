"""ICC(3,1), MAE and PCC against hand-computed values, numpy and pingouin."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from g2rl.metrics import degenerate_reason, icc, mae, pcc, per_au_metrics


def pingouin_icc3(pred, gt) -> float:
    """Independent reference: pingouin's ICC(C,1) (= ICC(3,1), consistency, single rater)."""
    import pingouin

    n = len(pred)
    long = pd.DataFrame(
        {"frame": np.tile(np.arange(n), 2), "rater": ["pred"] * n + ["gt"] * n, "y": np.concatenate([pred, gt])}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pingouin.intraclass_corr(long, targets="frame", raters="rater", ratings="y")
    return float(table.set_index("Type").at["ICC(C,1)", "ICC"])


# ---------------------------------------------------------------- ICC


def test_icc_hand_computed_3x2():
    # Y = [[1,2],[2,2],[3,4]]: SS_total = 16/3, SS_rows = 13/3, SS_cols = 2/3, SS_err = 1/3,
    # BMS = 13/6, EMS = 1/6, ICC = (13/6 - 1/6) / (13/6 + 1/6) = 6/7.
    assert icc([1, 2, 3], [2, 2, 4]) == pytest.approx(6 / 7, abs=1e-12)


def test_icc_perfect_agreement_is_one():
    x = np.array([0, 1, 2, 5, 3, 0, 4.0])
    assert icc(x, x) == pytest.approx(1.0, abs=1e-12)


def test_icc_constant_offset_is_still_one():
    # consistency form: a constant bias between the raters is a rater effect, not error
    x = np.array([0, 1, 2, 5, 3, 0, 4.0])
    assert icc(x + 0.7, x) == pytest.approx(1.0, abs=1e-12)
    # ... but a scaled copy is not perfectly consistent
    assert icc(2 * x, x) < 0.95


@pytest.mark.parametrize("seed", range(5))
def test_icc_matches_pingouin_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    gt = rng.integers(0, 6, n).astype(float)
    pred = np.clip(gt * rng.uniform(0.2, 1.2) + rng.normal(0, rng.uniform(0.1, 2.0), n) + rng.normal(), 0, 5)
    assert icc(pred, gt) == pytest.approx(pingouin_icc3(pred, gt), abs=1e-9)


def test_icc_equals_closed_form_for_two_raters():
    # with k = 2, ICC(3,1) = 2 cov / (var_p + var_g) (same ddof) -- an algebraic cross-check
    rng = np.random.default_rng(7)
    p, g = rng.normal(size=50), rng.normal(size=50)
    c = np.cov(p, g)
    assert icc(p, g) == pytest.approx(2 * c[0, 1] / (c[0, 0] + c[1, 1]), abs=1e-12)


def test_icc_negative_for_anti_correlated():
    assert icc([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-1.0, abs=1e-12)


# ---------------------------------------------------------------- MAE, PCC


def test_mae_and_pcc_match_numpy():
    rng = np.random.default_rng(3)
    p, g = rng.uniform(0, 5, 200), rng.uniform(0, 5, 200)
    assert mae(p, g) == pytest.approx(np.mean(np.abs(p - g)), abs=1e-12)
    assert pcc(p, g) == pytest.approx(np.corrcoef(p, g)[0, 1], abs=1e-12)


def test_mae_hand_value():
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


# ---------------------------------------------------------------- NaN labels and degenerate cases


def test_nan_labels_are_excluded_pairwise():
    p = np.array([1.0, 2.0, 9.0, 3.0, 9.0])
    g = np.array([2.0, 2.0, np.nan, 4.0, np.nan])  # the 9s sit on unlabelled frames
    assert icc(p, g) == pytest.approx(6 / 7, abs=1e-12)
    assert mae(p, g) == pytest.approx(mae([1, 2, 3], [2, 2, 4]))
    assert pcc(p, g) == pytest.approx(np.corrcoef([1, 2, 3], [2, 2, 4])[0, 1])


def test_nan_prediction_on_labelled_frame_is_an_error():
    with pytest.raises(ValueError, match="NaN prediction"):
        icc([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same length"):
        mae([1, 2, 3], [1, 2])


def test_degenerate_cases_return_nan_with_reason():
    # fewer than 2 labelled frames
    assert math.isnan(icc([1.0, 2.0], [3.0, np.nan]))
    assert "< 2" in degenerate_reason([1.0, 2.0], [3.0, np.nan], "icc")
    assert mae([1.0, 2.0], [3.0, np.nan]) == pytest.approx(2.0)  # MAE only needs one frame
    assert math.isnan(mae([1.0], [np.nan]))
    assert degenerate_reason([1.0], [np.nan], "mae") == "no labelled frames"
    # both constant: ICC is 0/0
    assert math.isnan(icc([2, 2, 2], [1, 1, 1]))
    assert "both constant" in degenerate_reason([2, 2, 2], [1, 1, 1], "icc")
    # constant labels (an AU never active in a fold): PCC undefined, ICC is exactly 0
    assert math.isnan(pcc([0.1, 0.5, 0.2], [0, 0, 0]))
    assert degenerate_reason([0.1, 0.5, 0.2], [0, 0, 0], "pcc") == "label constant (zero variance)"
    assert icc([0.1, 0.5, 0.2], [0, 0, 0]) == pytest.approx(0.0, abs=1e-12)
    assert icc([0.1, 0.5, 0.2], [0, 0, 0]) == pytest.approx(pingouin_icc3([0.1, 0.5, 0.2], [0.0, 0, 0]), abs=1e-9)
    # a collapsed model (constant prediction) scores ICC 0, not NaN
    assert icc([1.5] * 4, [0, 1, 2, 3]) == pytest.approx(0.0, abs=1e-12)
    assert degenerate_reason([1.5] * 4, [0, 1, 2, 3], "pcc") == "prediction constant (zero variance)"
    assert degenerate_reason([1, 2, 3], [2, 2, 4], "icc") == ""


# ---------------------------------------------------------------- per-AU table


def test_per_au_metrics_table_and_average():
    df = pd.DataFrame(
        {
            "AU01_pred": [1, 2, 3, 0.5],
            "AU01_true": [2, 2, 4, np.nan],
            "AU12_pred": [0, 1, 2, 3],
            "AU12_true": [0, 1, 2, 3],
            "AU25_pred": [1, 2, 1, 2],
            "AU25_true": [0, 0, 0, 0],  # constant labels: PCC NaN
        }
    )
    t = per_au_metrics(df, ["AU01", "AU12", "AU25"])
    assert list(t.index) == ["AU01", "AU12", "AU25", "Avg"]
    assert list(t.columns[:4]) == ["icc", "mae", "pcc", "n"]
    assert t.at["AU01", "icc"] == pytest.approx(6 / 7)
    assert t.at["AU01", "n"] == 3
    assert t.at["AU12", "icc"] == pytest.approx(1.0)
    assert t.at["AU25", "icc"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(t.at["AU25", "pcc"])
    assert "label constant" in t.at["AU25", "note"]
    # plain mean over AUs (not frame-weighted)
    assert t.at["Avg", "icc"] == pytest.approx((6 / 7 + 1 + 0) / 3)
    assert t.at["Avg", "mae"] == pytest.approx((2 / 3 + 0.0 + 1.5) / 3)
    # PCC average over the 2 AUs where it is defined, and the note says so
    assert t.at["Avg", "pcc"] == pytest.approx((np.corrcoef([1, 2, 3], [2, 2, 4])[0, 1] + 1.0) / 2)
    assert "pcc over 2/3 AUs (without AU25)" in t.at["Avg", "note"]


def test_per_au_metrics_missing_column():
    df = pd.DataFrame({"AU01_pred": [1.0, 2.0]})
    with pytest.raises(KeyError, match="AU01_true"):
        per_au_metrics(df, ["AU01"])
