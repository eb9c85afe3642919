"""AU intensity metrics: ICC(3,1), MAE and Pearson r, per AU and averaged over AUs.

All three take two 1-D arrays of the same length n (one value per frame, intensities on the
0-5 scale). Frames whose *label* is NaN (not coded: BP4D code 9, DISFA gaps) are excluded
pairwise before anything is computed. A NaN *prediction* on a labelled frame is an error:
predictions are decoded heatmap maxima and are never missing by contract (docs/CONTRACTS.md),
so a NaN there is an upstream bug that must not be averaged away.

Degenerate cases return NaN instead of a made-up number; :func:`degenerate_reason` says why
(and :func:`per_au_metrics` puts that reason in its ``note`` column):

* MAE needs n >= 1 labelled frame.
* ICC(3,1) needs n >= 2 and *some* variance. With k = 2 "raters" (prediction, label) it equals
  2 s_pg / (s_p^2 + s_g^2), so it is undefined only when both series are constant. When only one
  is constant the formula gives exactly 0, which is the right verdict (e.g. a model that
  outputs a constant has no consistency with varying labels), so that 0 is reported, as
  pingouin does.
* Pearson r needs n >= 2 and non-zero variance in *both* series.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

# Relative tolerance below which a sum of squares counts as zero (floating-point noise of
# a constant series, e.g. 0.1 repeated, is ~1e-32 * n, far below this).
_ZERO_SS = 1e-12

METRIC_NAMES = ("icc", "mae", "pcc")


def _pairs(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    """Return (pred, gt) as float64 1-D arrays restricted to frames with a label."""
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.ndim != 1 or g.ndim != 1 or p.shape != g.shape:
        raise ValueError(f"pred and gt must be 1-D arrays of the same length, got {p.shape} and {g.shape}")
    labelled = ~np.isnan(g)
    p, g = p[labelled], g[labelled]
    if np.isnan(p).any():
        raise ValueError(f"{int(np.isnan(p).sum())} NaN prediction(s) on labelled frames")
    return p, g


def _is_constant(x: np.ndarray) -> bool:
    ss = float(np.sum((x - x.mean()) ** 2))
    return ss <= _ZERO_SS * max(1.0, float(np.sum(x**2)))


def degenerate_reason(pred, gt, metric: str) -> str:
    """Why ``metric`` ('icc' | 'mae' | 'pcc') is NaN for these arrays, or '' if it is defined."""
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRIC_NAMES}")
    p, g = _pairs(pred, gt)
    n = p.size
    if metric == "mae":
        return "no labelled frames" if n == 0 else ""
    if n < 2:
        return f"n = {n} labelled frame(s) < 2"
    p_const, g_const = _is_constant(p), _is_constant(g)
    if metric == "icc":
        return "prediction and label both constant (0/0)" if (p_const and g_const) else ""
    # pcc
    if p_const and g_const:
        return "prediction and label both constant"
    if p_const:
        return "prediction constant (zero variance)"
    if g_const:
        return "label constant (zero variance)"
    return ""


def icc(pred, gt) -> float:
    """ICC(3,1), Shrout & Fleiss consistency, with k = 2 raters (prediction and label).

    From the two-way ANOVA of the n x 2 matrix Y = [pred, gt] over the n labelled frames:
    BMS = between-frames mean square, EMS = residual mean square,
    ICC = (BMS - EMS) / (BMS + (k - 1) EMS). A constant offset between prediction and label
    goes into the rater effect, not into EMS, so it does not lower ICC(3,1).
    Returns NaN (see :func:`degenerate_reason`) when n < 2 or both series are constant.
    """
    p, g = _pairs(pred, gt)
    n, k = p.size, 2
    if degenerate_reason(p, g, "icc"):
        return math.nan
    y = np.stack([p, g], axis=1)  # (n, k)
    grand = y.mean()
    ss_total = float(np.sum((y - grand) ** 2))
    ss_rows = k * float(np.sum((y.mean(axis=1) - grand) ** 2))  # between frames
    ss_cols = n * float(np.sum((y.mean(axis=0) - grand) ** 2))  # between raters
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    return float((bms - ems) / (bms + (k - 1) * ems))


def mae(pred, gt) -> float:
    """Mean absolute error over labelled frames (intensity units); NaN if none is labelled."""
    p, g = _pairs(pred, gt)
    if p.size == 0:
        return math.nan
    return float(np.mean(np.abs(p - g)))


def pcc(pred, gt) -> float:
    """Pearson correlation over labelled frames; NaN if n < 2 or either series is constant."""
    p, g = _pairs(pred, gt)
    if degenerate_reason(p, g, "pcc"):
        return math.nan
    dp, dg = p - p.mean(), g - g.mean()
    return float(np.sum(dp * dg) / math.sqrt(float(np.sum(dp**2)) * float(np.sum(dg**2))))


def per_au_metrics(df: pd.DataFrame, aus: Sequence[str]) -> pd.DataFrame:
    """ICC, MAE and PCC per AU from a predictions table, plus their average over AUs.

    ``df`` has columns ``<AU>_pred`` and ``<AU>_true`` for every AU in ``aus`` (e.g. 'AU12'),
    one row per frame (docs/CONTRACTS.md). Returns a DataFrame indexed by AU and then 'Avg',
    with columns icc, mae, pcc (float), n (labelled frames used; for 'Avg' the number of
    frames in ``df``) and note (why a value is NaN; for 'Avg' which AUs the mean left out).
    The average is the plain (unweighted) mean over AUs of each metric, taken over the AUs
    where that metric is defined; the note names any AU left out, so nothing drops silently.
    """
    aus = list(aus)
    if not aus:
        raise ValueError("no AUs given")
    missing = [c for au in aus for c in (f"{au}_pred", f"{au}_true") if c not in df.columns]
    if missing:
        raise KeyError(f"predictions table lacks column(s): {', '.join(missing)}")
    rows = []
    for au in aus:
        pred = df[f"{au}_pred"].to_numpy(dtype=np.float64)
        true = df[f"{au}_true"].to_numpy(dtype=np.float64)
        try:
            p, g = _pairs(pred, true)
        except ValueError as exc:
            raise ValueError(f"{au}: {exc}") from None
        reasons = {m: degenerate_reason(p, g, m) for m in METRIC_NAMES}
        note = "; ".join(f"{m} NaN: {r}" for m, r in reasons.items() if r)
        rows.append(
            {"au": au, "icc": icc(p, g), "mae": mae(p, g), "pcc": pcc(p, g), "n": int(p.size), "note": note}
        )
    table = pd.DataFrame(rows).set_index("au")
    avg = {"n": int(len(df))}
    left_out = []
    for m in METRIC_NAMES:
        vals = table[m]
        defined = vals.notna()
        avg[m] = float(vals[defined].mean()) if defined.any() else math.nan
        if not defined.all():
            left_out.append(f"{m} over {int(defined.sum())}/{len(aus)} AUs (without {', '.join(vals.index[~defined])})")
    avg["note"] = "; ".join(left_out)
    table.loc["Avg"] = pd.Series(avg)
    table["n"] = table["n"].astype(int)
    for m in METRIC_NAMES:
        table[m] = table[m].astype(float)
    return table
