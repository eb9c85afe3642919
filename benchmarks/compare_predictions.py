"""How far two sets of demo trainings' predictions are apart, job by job (e.g. one code against another).

    python benchmarks/compare_predictions.py benchmarks/records/A.json benchmarks/records/B.json --record NAME

A and B are bench_demo_train.py records of the same jobs (same variant, dataset, method, fold, seed); their
``predictions.csv`` files must still be where the records say. Per job: the rows (identical keys?), the
largest and the mean absolute difference of the predicted intensities, and of the labels (which must be 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--record", help="write benchmarks/records/RECORD.json")
    args = ap.parse_args()
    rec = Record("compare_predictions", {"a": args.a.name, "b": args.b.name})
    a, b = (json.loads(p.read_text())["results"]["jobs"] for p in (args.a, args.b))
    key = lambda j: (j["variant"], j["dataset"], j["method"], j["fold"])  # noqa: E731
    others = {key(j): j for j in b}
    for ja in a:
        jb = others[key(ja)]
        pa, pb = pd.read_csv(ja["predictions"]), pd.read_csv(jb["predictions"])
        same_keys = pa.iloc[:, :4].equals(pb.iloc[:, :4])
        pred = [c for c in pa.columns if c.endswith("_pred")]
        true = [c for c in pa.columns if c.endswith("_true")]
        d = np.abs(pa[pred].to_numpy() - pb[pred].to_numpy())
        t = np.nan_to_num(np.abs(pa[true].to_numpy() - pb[true].to_numpy()))
        row = {"dataset": ja["dataset"], "method": ja["method"], "fold": ja["fold"], "rows": len(pa),
               "same_keys": bool(same_keys), "max_abs_pred_diff": float(d.max()), "mean_abs_pred_diff": float(d.mean()),
               "max_abs_label_diff": float(t.max())}
        rec.data["results"].setdefault("jobs", []).append(row)
        print(f"{row['dataset']:5s} {row['method']:8s} fold {row['fold']:5s}: {row['rows']} rows, keys equal "
              f"{row['same_keys']}, |pred a - pred b| max {row['max_abs_pred_diff']:.2e} mean "
              f"{row['mean_abs_pred_diff']:.2e}, labels differ by at most {row['max_abs_label_diff']:g}")
    if args.record:
        rec.write(args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
