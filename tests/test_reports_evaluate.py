"""Per-fold and pooled evaluation of predictions CSVs, metrics.json, and `g2rl evaluate`."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.errors import G2RLError
from g2rl.metrics import icc
from g2rl.reports.evaluate import (
    evaluate_runs,
    headline_table,
    read_metrics_json,
    read_predictions,
    write_metrics_json,
)

# Three folds, three frames each. AU01 is predicted perfectly up to a per-fold offset
# (0, +1, +0.5): every fold has ICC(3,1) = 1, but pooled the offsets become error.
FOLDS = {
    "1": {"subject": "SN001", "true": [0, 1, 2], "offset": 0.0},
    "2": {"subject": "SN002", "true": [1, 2, 3], "offset": 1.0},
    "3": {"subject": "SN003", "true": [0, 2, 4], "offset": 0.5},
}


def write_fold(tmp_path, split, subject, true, offset, frames=(1, 2, 3), au12_true=None):
    true = np.asarray(true, dtype=float)
    df = pd.DataFrame(
        {
            "subject": subject,
            "session": "LeftCamera",
            "frame": list(frames),
            "split": split,
            "AU01_pred": true + offset,
            "AU01_true": true,
            # AU12: one unlabelled frame per fold
            "AU12_pred": [0.5, 1.0, 4.0],
            "AU12_true": au12_true if au12_true is not None else [0.0, 1.5, np.nan],
        }
    )
    path = tmp_path / f"fold{split}.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def three_folds(tmp_path):
    return [write_fold(tmp_path, s, f["subject"], f["true"], f["offset"]) for s, f in FOLDS.items()]


def test_per_fold_and_pooled(three_folds):
    m = evaluate_runs(three_folds, pooled=True)
    assert m["aus"] == ["AU01", "AU12"]
    assert m["headline"] == "pooled"
    assert set(m["folds"]) == {"1", "2", "3"}
    for split, f in FOLDS.items():
        fold = m["folds"][split]
        assert fold["n_frames"] == 3
        assert fold["per_au"]["AU01"]["icc"] == pytest.approx(1.0)
        assert fold["per_au"]["AU01"]["mae"] == pytest.approx(f["offset"])
        assert fold["per_au"]["AU12"]["n"] == 2  # the NaN label is left out
    pooled = m["pooled"]
    assert pooled["n_frames"] == 9
    # pooled MAE = frame-weighted mean of the folds' MAEs: (0 + 1 + 0.5) * 3 / 9
    assert pooled["per_au"]["AU01"]["mae"] == pytest.approx(0.5)
    # pooled ICC over the concatenation, lower than each fold's 1.0 because of the offsets
    true = np.concatenate([f["true"] for f in FOLDS.values()]).astype(float)
    pred = np.concatenate([np.asarray(f["true"], float) + f["offset"] for f in FOLDS.values()])
    assert pooled["per_au"]["AU01"]["icc"] == pytest.approx(icc(pred, true))
    assert pooled["per_au"]["AU01"]["icc"] < 0.96
    assert pooled["per_au"]["AU12"]["n"] == 6
    assert pooled["avg"]["mae"] == pytest.approx((0.5 + np.mean([0.5, 0.5] * 3)) / 2)


def test_not_pooled_single_fold_headline(three_folds):
    m = evaluate_runs(three_folds[:1])
    assert m["pooled"] is None and m["headline"] == "fold:1"
    t = headline_table(m)
    assert list(t.index) == ["AU01", "AU12", "Avg"]
    assert t.at["AU01", "icc"] == pytest.approx(1.0)


def test_several_folds_unpooled_have_no_headline(three_folds):
    m = evaluate_runs(three_folds, pooled=False)
    assert m["pooled"] is None and m["headline"] is None
    with pytest.raises(G2RLError, match="no pooled section"):
        headline_table(m)


def test_duplicate_frame_across_folds_is_an_error(tmp_path):
    a = write_fold(tmp_path, "1", "SN001", [0, 1, 2], 0.0)
    # fold 2 predicts SN001 frame 3 again
    b = write_fold(tmp_path, "2", "SN001", [1, 2, 3], 0.0, frames=(3, 4, 5))
    with pytest.raises(G2RLError, match=r"predicted by more than one fold.*'SN001'.*3.*\['1', '2'\]"):
        evaluate_runs([a, b], pooled=True)
    # per fold alone the two files are fine
    assert set(evaluate_runs([a, b], pooled=False)["folds"]) == {"1", "2"}


def test_duplicate_frame_within_a_file_is_an_error(tmp_path):
    path = write_fold(tmp_path, "1", "SN001", [0, 1, 2], 0.0, frames=(1, 2, 2))
    with pytest.raises(G2RLError, match="fold1.csv.*repeat"):
        read_predictions(path)


def test_same_split_twice_is_an_error(tmp_path):
    a = write_fold(tmp_path, "1", "SN001", [0, 1, 2], 0.0)
    b = tmp_path / "other.csv"
    pd.read_csv(a).assign(subject="SN009").to_csv(b, index=False)
    with pytest.raises(G2RLError, match="split '1' is also the split of"):
        evaluate_runs([a, b], pooled=True)


def test_bad_inputs_name_the_file(tmp_path):
    a = write_fold(tmp_path, "1", "SN001", [0, 1, 2], 0.0)
    df = pd.read_csv(a)
    df.drop(columns=["AU12_true"]).to_csv(tmp_path / "nocol.csv", index=False)
    with pytest.raises(G2RLError, match="nocol.csv.*AU12_true"):
        evaluate_runs([tmp_path / "nocol.csv"])
    df.assign(AU01_pred=[1.0, np.nan, 2.0]).to_csv(tmp_path / "nanpred.csv", index=False)
    with pytest.raises(G2RLError, match="nanpred.csv.*NaN AU01_pred"):
        evaluate_runs([tmp_path / "nanpred.csv"])
    with pytest.raises(G2RLError, match="missing.csv.*not found"):
        evaluate_runs([tmp_path / "missing.csv"])
    df.assign(split=["1", "2", "2"]).to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(G2RLError, match="mixed.csv.*several splits"):
        evaluate_runs([tmp_path / "mixed.csv"])


def test_metrics_json_round_trip_with_nan(tmp_path):
    # constant labels and predictions: ICC NaN, which must be written as null (strict JSON)
    path = write_fold(tmp_path, "1", "SN001", [2, 2, 2], 0.0, au12_true=[1.0, 2.0, 3.0])
    m = evaluate_runs([path])
    out = write_metrics_json(m, tmp_path / "out" / "metrics.json")
    def reject(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    raw = json.loads(out.read_text(), parse_constant=reject)
    assert raw["folds"]["1"]["per_au"]["AU01"]["icc"] is None
    assert "both constant" in raw["folds"]["1"]["per_au"]["AU01"]["note"]
    back = read_metrics_json(out)
    t = headline_table(back)
    assert math.isnan(t.at["AU01", "icc"])
    assert t.at["Avg", "icc"] == pytest.approx(t.at["AU12", "icc"])  # mean over the defined AU
    assert not list(tmp_path.joinpath("out").glob(".*tmp*"))  # atomic write left no temp file


def test_read_metrics_json_rejects_other_files(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(G2RLError, match="x.json"):
        read_metrics_json(tmp_path / "x.json")


def test_cli_evaluate(three_folds, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    rc = g2rl_main(["evaluate", *map(str, three_folds), "--out", str(out), "--pooled", "--run", "dataset=disfa", "method=g2rl"])
    assert rc == 0
    m = read_metrics_json(out)
    assert m["run"] == {"dataset": "disfa", "method": "g2rl"}
    assert m["pooled"]["per_au"]["AU01"]["mae"] == pytest.approx(0.5)
    # --aus as the workflow passes it: one comma-separated word
    assert g2rl_main(["evaluate", str(three_folds[0]), "--out", str(out), "--aus", "AU12,AU01"]) == 0
    assert read_metrics_json(out)["aus"] == ["AU12", "AU01"]
    # duplicate -> exit status 2 with a one-line message naming the problem
    rc = g2rl_main(["evaluate", str(three_folds[0]), str(three_folds[0]), "--out", str(out), "--pooled"])
    assert rc == 2
    assert "g2rl evaluate: error:" in capsys.readouterr().err
