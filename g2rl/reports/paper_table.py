"""The paper's published Table 1, read from ``config/paper_table1.csv``.

The file is tidy, one row per (dataset, method, metric, au) with ``au`` = ``AU06`` etc. or
``Avg`` (the paper's own average column, kept as printed rather than recomputed, because the
paper's rounding makes the two differ by up to 0.006). Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.csvread import read_csv_file
from g2rl.errors import G2RLError

# The transcription shipped with the package (a link to config/paper_table1.csv in a checkout), so an installed
# g2rl and the workflow's jobs find it without a path that depends on where the checkout lives.
PACKAGED_PAPER_TABLE = Path(__file__).resolve().parent.parent / "resources" / "paper_table1.csv"
COLUMNS = ["dataset", "method", "metric", "au", "value"]
METRICS = ("ICC", "MAE")
_AU = re.compile(r"^AU\d\d$")


def read_paper_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check the tidy published-numbers file; rows keep the file's order.

    Checks: exact columns, metric in {ICC, MAE}, au like 'AU06' or 'Avg', finite values, no
    repeated (dataset, method, metric, au), and every (dataset, method, metric) has the same
    AUs as the rest of its dataset plus an 'Avg'. Raises :class:`G2RLError` naming the file.
    """
    path = Path(path)
    df = read_csv_file(path, "paper table", comment="#", dtype={"dataset": str, "method": str, "metric": str, "au": str})
    if list(df.columns) != COLUMNS:
        raise G2RLError(f"{path}: columns are {list(df.columns)}, expected {COLUMNS}")
    bad_metric = sorted(set(df["metric"]) - set(METRICS))
    if bad_metric:
        raise G2RLError(f"{path}: unknown metric(s) {bad_metric}; expected {list(METRICS)}")
    bad_au = sorted({a for a in df["au"] if a != "Avg" and not _AU.match(a)})
    if bad_au:
        raise G2RLError(f"{path}: bad au name(s) {bad_au}; expected e.g. 'AU06' or 'Avg'")
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float))  # NaN (not a number) or inf
    if bad.any():
        raise G2RLError(f"{path}: non-numeric value in data row(s) {[int(i) + 1 for i in np.flatnonzero(bad)]}")
    df["value"] = values.astype(float)
    dup = df.duplicated(subset=COLUMNS[:4], keep=False)
    if dup.any():
        raise G2RLError(f"{path}: repeated (dataset, method, metric, au): {df.loc[dup, COLUMNS[:4]].values.tolist()[:3]}")
    for dataset, part in df.groupby("dataset", sort=False):
        expected = set(part["au"])
        if "Avg" not in expected:
            raise G2RLError(f"{path}: dataset {dataset} has no 'Avg' rows")
        for (method, metric), grp in part.groupby(["method", "metric"], sort=False):
            if set(grp["au"]) != expected:
                raise G2RLError(
                    f"{path}: {dataset} {method} {metric} lacks {sorted(expected - set(grp['au']))}"
                )
    return df.reset_index(drop=True)


def dataset_aus(table: pd.DataFrame, dataset: str) -> list[str]:
    """The AUs (without 'Avg') the paper reports for ``dataset``, sorted (AU01 < AU02 < ...)."""
    aus = sorted({a for a in table.loc[table["dataset"] == dataset, "au"] if a != "Avg"})
    if not aus:
        known = sorted(table["dataset"].unique())
        raise G2RLError(f"paper table has no rows for dataset {dataset!r}; it has {known}")
    return aus


def paper_wide(table: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """One metric of one dataset as printed: index = method (file order), columns = AUs + 'Avg'."""
    aus = dataset_aus(table, dataset)
    part = table[(table["dataset"] == dataset) & (table["metric"] == metric)]
    methods = list(dict.fromkeys(part["method"]))
    wide = part.pivot(index="method", columns="au", values="value")
    return wide.loc[methods, aus + ["Avg"]]


def average_discrepancies(table: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method, metric): the paper's Avg, the mean of its per-AU values, |difference|."""
    rows = []
    for (dataset, method, metric), grp in table.groupby(["dataset", "method", "metric"], sort=False):
        per_au = grp.loc[grp["au"] != "Avg", "value"]
        paper_avg = float(grp.loc[grp["au"] == "Avg", "value"].iloc[0])
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "metric": metric,
                "paper_avg": paper_avg,
                "mean_of_aus": float(per_au.mean()),
                "abs_diff": abs(float(per_au.mean()) - paper_avg),
            }
        )
    return pd.DataFrame(rows)
