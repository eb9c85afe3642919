"""Table 1: our rows next to the paper's, bold on the best cells, the data note in every output."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.reports.table1 import best_mask, build_table1, write_table1

PAPER_CSV = Path(__file__).resolve().parents[1] / "config" / "paper_table1.csv"
BP4D_AUS = ["AU06", "AU10", "AU12", "AU14", "AU17"]


def fake_metrics(icc: dict, mae: dict, headline="fold:devel") -> dict:
    """A metrics dict shaped like evaluate_runs' output, with chosen per-AU values."""
    per_au = {au: {"icc": icc[au], "mae": mae[au], "pcc": None, "n": 10, "note": ""} for au in icc}
    avg = {
        "icc": float(np.mean(list(icc.values()))),
        "mae": float(np.mean(list(mae.values()))),
        "pcc": None,
        "n": 10,
        "note": "",
    }
    sec = {"file": "p.csv", "n_frames": 10, "per_au": per_au, "avg": avg}
    return {"format": "g2rl-metrics/1", "aus": list(icc), "headline": headline, "folds": {"devel": sec}, "pooled": None}


@pytest.fixture
def ours():
    # G2RL (ours) beats everything on AU14 ICC (0.95 > paper's best 0.59) and on AU17 MAE (0.10 < 0.38);
    # Baseline (ours) ties the paper's best AU06 ICC (0.76, KBSS) after rounding (0.7601 -> 0.76).
    base_icc = {"AU06": 0.7601, "AU10": 0.1, "AU12": 0.1, "AU14": 0.1, "AU17": 0.1}
    base_mae = {au: 2.0 for au in BP4D_AUS}
    g_icc = {"AU06": 0.2, "AU10": 0.2, "AU12": 0.2, "AU14": 0.95, "AU17": 0.2}
    g_mae = {"AU06": 1.5, "AU10": 1.5, "AU12": 1.5, "AU14": 1.5, "AU17": 0.10}
    return {"Baseline": fake_metrics(base_icc, base_mae), "G2RL": fake_metrics(g_icc, g_mae)}


def test_build_table1_layout(ours):
    df = build_table1("bp4d", ours, PAPER_CSV, "demo")
    assert list(df.columns) == ["metric", "method", "source", *BP4D_AUS, "Avg"]
    assert len(df) == 2 * (6 + 2)
    icc_rows = df[df["metric"] == "ICC"]
    assert list(icc_rows["method"]) == ["KJRE", "BORMIR", "CCNN-IT", "KBSS", "Baseline", "G2RL", "Baseline", "G2RL"]
    assert list(icc_rows["source"]) == ["paper"] * 6 + ["ours"] * 2
    g = df[(df["metric"] == "ICC") & (df["method"] == "G2RL") & (df["source"] == "ours")].iloc[0]
    assert g["AU14"] == pytest.approx(0.95)
    assert g["Avg"] == pytest.approx(np.mean([0.2, 0.2, 0.2, 0.95, 0.2]))
    assert "DEMO dataset" in df.attrs["data_note"]
    assert any("test split devel" in n for n in df.attrs["notes"])


def _is_best(df, best):
    def is_best(metric, method, source, col):
        i = df.index[(df["metric"] == metric) & (df["method"] == method) & (df["source"] == source)][0]
        return bool(best.at[i, col])
    return is_best


def test_bold_among_the_papers_rows_and_separately_among_ours_on_real_data(ours, tmp_path):
    df = build_table1("bp4d", ours, PAPER_CSV, "real")
    is_best = _is_best(df, best_mask(df))
    # the paper's rows: their own best, whatever ours are (our 0.95 on AU14 does not unbold the paper's 0.59)
    assert is_best("ICC", "G2RL", "paper", "AU14") and is_best("ICC", "KJRE", "paper", "AU12")
    assert is_best("ICC", "KBSS", "paper", "AU06") and not is_best("ICC", "KJRE", "paper", "AU14")
    assert is_best("MAE", "G2RL", "paper", "Avg")  # paper's 0.58
    # ours: the better of our Baseline and G2RL per column
    assert is_best("ICC", "G2RL", "ours", "AU14") and not is_best("ICC", "Baseline", "ours", "AU14")
    assert is_best("ICC", "Baseline", "ours", "AU06")  # 0.76 > 0.20
    assert is_best("MAE", "G2RL", "ours", "AU17") and not is_best("MAE", "Baseline", "ours", "AU17")
    for (metric, source), block in df.groupby(["metric", "source"]):
        assert best_mask(df).loc[block.index].any(axis=0).all(), (metric, source)  # one bold per column per group

    paths = write_table1(df, tmp_path / "table1_bp4d", "Table 1 (BP4D)")
    md = paths["md"].read_text()
    rows = {line.split("|")[2].strip() + "/" + line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ICC") or line.startswith("| MAE")}
    cells = lambda key: [c.strip() for c in rows[key].split("|")[3:-1]]  # noqa: E731
    assert cells("G2RL (ours)/ICC")[3] == "**0.95**" and cells("G2RL/ICC")[3] == "**0.59**"
    assert cells("Baseline (ours)/ICC")[0] == "**0.76**" and cells("KBSS/ICC")[0] == "**0.76**"
    assert cells("G2RL (ours)/MAE")[4] == "**0.10**"
    assert cells("G2RL/MAE")[5] == "**0.58**"

    tex = paths["tex"].read_text()
    assert re.search(r"^Baseline \(ours\) & \\textbf\{0\.76\} & 0\.10 & 0\.10 & 0\.10 & 0\.10 &", tex, re.M)
    assert re.search(r"^KJRE & 0\.71 & 0\.61 & \\textbf\{0\.87\}", tex, re.M)

    html = paths["html"].read_text()
    assert "<td class='m'>Baseline (ours)</td><td><b>0.76</b></td><td>0.10</td><td>0.10</td><td>0.10</td>" in html
    assert "<td class='m'>KJRE</td><td>0.71</td><td>0.61</td><td><b>0.87</b></td>" in html

    csv = pd.read_csv(paths["csv"])
    row = csv[(csv["metric"] == "ICC") & (csv["method"] == "G2RL") & csv["source"].str.startswith("ours")].iloc[0]
    assert set(row["best"].split(";")) == {"AU10", "AU12", "AU14", "AU17", "Avg"}
    assert row["AU14"] == pytest.approx(0.95)


def test_demo_rows_are_never_bold(ours, tmp_path):
    df = build_table1("bp4d", ours, PAPER_CSV, "demo")
    best = best_mask(df)
    assert not best[df["source"] == "ours"].to_numpy().any()
    assert best[df["source"] == "paper"].any(axis=0).all()  # the paper's bests are still marked
    paths = write_table1(df, tmp_path / "demo", "Table 1 (BP4D)")
    ours_lines = [line for line in paths["md"].read_text().splitlines() if "(ours)" in line and line.startswith("|")]
    assert len(ours_lines) == 4 and not any("**" in line for line in ours_lines)
    assert not any("textbf" in line for line in paths["tex"].read_text().splitlines() if "(ours)" in line)
    assert not any("<b>" in line for line in paths["html"].read_text().splitlines() if "(ours)" in line)
    assert (pd.read_csv(paths["csv"]).query("source != 'paper'")["best"].isna()).all()


def test_no_negative_zero_in_any_table(ours, tmp_path):
    """An ICC of -0.001 rounds to -0.00 with plain formatting; every output must print 0.00 (CSV: 0)."""
    ours["G2RL"]["folds"]["devel"]["per_au"]["AU10"]["icc"] = -0.001
    ours["G2RL"]["folds"]["devel"]["per_au"]["AU12"]["icc"] = -0.0
    df = build_table1("bp4d", ours, PAPER_CSV, "real")
    paths = write_table1(df, tmp_path / "t", "Table 1 (BP4D)")
    for path in paths.values():
        assert not re.search(r"-0(\.0+)?(?![0-9.])", path.read_text()), path
    assert "| ICC | G2RL (ours) | 0.20 | 0.00 | 0.00 |" in paths["md"].read_text()


def test_every_output_states_the_data(ours, tmp_path):
    demo = write_table1(build_table1("bp4d", ours, PAPER_CSV, "demo"), tmp_path / "demo", "Table 1 (BP4D)")
    for path in demo.values():
        text = path.read_text()
        assert "DEMO" in text, path
        assert "not comparable" in text, path
    real = write_table1(build_table1("bp4d", ours, PAPER_CSV, "real"), tmp_path / "real", "Table 1 (BP4D)")
    for path in real.values():
        text = path.read_text()
        assert "DEMO" not in text and "BP4D" in text, path
    assert "computed on BP4D" in real["md"].read_text()
    assert "\\caption{Table 1 (BP4D). Rows marked (ours) were computed on BP4D" in real["tex"].read_text()


def test_missing_and_unknown_aus(ours):
    m = ours["G2RL"]
    partial = fake_metrics({"AU06": 0.5, "AU12": 0.7}, {"AU06": 0.4, "AU12": 0.3})
    df = build_table1("bp4d", {"G2RL": partial}, PAPER_CSV, "demo")
    row = df[(df["metric"] == "ICC") & (df["source"] == "ours")].iloc[0]
    assert np.isnan(row["AU10"]) and row["Avg"] == pytest.approx(0.6)
    assert "not evaluated: AU10, AU14, AU17 (Avg over 2 AUs)" in df.attrs["notes"][0]
    extra = fake_metrics({"AU06": 0.5, "AU01": 0.7}, {"AU06": 0.4, "AU01": 0.3})
    with pytest.raises(G2RLError, match="AU01.*does not report for bp4d"):
        build_table1("bp4d", {"G2RL": extra}, PAPER_CSV, "demo")
    with pytest.raises(G2RLError, match="data_label"):
        build_table1("bp4d", {"G2RL": m}, PAPER_CSV, "synthetic")
    with pytest.raises(G2RLError, match="no rows for dataset 'ckplus'"):
        build_table1("ckplus", {"G2RL": m}, PAPER_CSV, "real")


def test_fixed_never_prints_negative_zero():
    from g2rl.reports.numfmt import fixed

    assert fixed(-0.004) == "0.00" and fixed(-0.0) == "0.00" and fixed(-0.006) == "-0.01"
    assert fixed(0.125, 2) == "0.12" and fixed(2.0, 3) == "2.000"  # round half to even, as format() does
    assert fixed(-0.0004, 3, sign=True) == "+0.000" and fixed(0.05, 3, sign=True) == "+0.050"
    assert fixed(-0.05, 3, sign=True) == "-0.050"


def test_an_interval_never_prints_a_bound_that_contradicts_its_mark():
    """DISFA AU05 printed '[-0.043, +0.000]▼' for an upper bound of -0.0004: a bound that is not zero keeps its
    sign, with as many decimals as it takes."""
    from g2rl.reports.comparison import fmt_difference
    from g2rl.reports.numfmt import bound, interval

    assert bound(-0.0004, 3, sign=True) == "-0.0004" and bound(0.00004, 3, sign=True) == "+0.00004"
    assert bound(-0.043, 3, sign=True) == "-0.043" and bound(0.0, 3, sign=True) == "+0.000"
    assert bound(3e-9, 2, sign=True) == "+3e-09" and bound(-0.004, 2) == "-0.004"
    assert interval(-0.043, -0.0004, 3, sign=True) == "[-0.043, -0.0004]"
    assert fmt_difference(-0.02, -0.043, -0.0004, "worse") == "-0.020 [-0.043, -0.0004]▼"


def test_uncertainty_text_has_no_negative_zero():
    from g2rl.reports.comparison import fmt_estimate

    assert fmt_estimate(0.001, 0.0, -0.003, 0.004) == "0.00 ± 0.00 [-0.003, 0.004]"  # bounds keep their sign
    assert fmt_estimate(0.001, -0.0, 0.0, 0.01) == "0.00 ± 0.00 [0.00, 0.01]"


def test_g2rl_row_names_its_variant_in_every_format(tmp_path):
    """The G2RL row says which G2RL it is (its runs' guidance), and the caption its non-paper choices."""
    from g2rl.reports.model_label import metrics_model
    from g2rl.reports.table1 import build_table1, name_variant, to_csv_frame, write_table1

    model = {"guidance": "stopgrad_aux", "au_points": "hr", "heatmap_layout": "per_au", "heatmap_peak": "eq1"}
    record = {"config": {"model": model}}
    runs = {m: fake_metrics({"AU06": 0.5, "AU10": 0.4, "AU12": 0.8, "AU14": 0.3, "AU17": 0.2},
                        {"AU06": 0.5, "AU10": 0.4, "AU12": 0.8, "AU14": 0.3, "AU17": 0.2}) for m in ("Baseline", "G2RL")}
    runs["G2RL"]["provenance"] = {"inputs": {"p.csv": record}}
    df = build_table1("bp4d", runs, PAPER_CSV, "demo")
    name_variant(df, "G2RL", metrics_model([runs["G2RL"]]))
    paths = write_table1(df, tmp_path / "t1", "Table 1 (BP4D)")
    import html

    for ext in ("md", "html"):
        text = html.unescape(paths[ext].read_text())
        assert "G2RL (ours, stopgrad_aux)" in text and "not the paper's Eq. 6/8 as written" in text, ext
    assert "G2RL (ours, stopgrad\\_aux)" in paths["tex"].read_text()
    csv = to_csv_frame(df)
    assert csv.loc[(csv["method"] == "G2RL") & (csv["source"] != "paper"), "variant"].eq("stopgrad_aux").all()
    # runs of different variants are not given one name
    other = {"config": {"model": dict(model, guidance="literal")}}
    assert metrics_model([runs["G2RL"], {"provenance": {"inputs": {"q.csv": other}}}]) is None
