"""`g2rl provenance RESULT`: which code, config, data, weights and machine produced a result.

    g2rl provenance results/disfa/runs/g2rl/sigma2/lambda0.05/seed0/metrics.json
    g2rl provenance results/disfa/runs/.../fold1/model.pt
    g2rl provenance results/tables/table1_disfa.csv        # reads table1_disfa.provenance.json
"""

from __future__ import annotations

import argparse
import json

import yaml

from g2rl.provenance import distinct, read_provenance, runs_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", nargs="+", metavar="RESULT", help="metrics.json, model.pt, a .provenance.json, or a table / figure / "
                        "predictions file with a <name>.provenance.json beside it")
    parser.add_argument("--json", action="store_true", help="print the full record as JSON")


def main(args: argparse.Namespace) -> int:
    for path in args.result:
        record = read_provenance(path)
        if args.json:
            print(json.dumps(record, indent=2))
            continue
        print(f"# {path}")
        if runs_of(record):  # a weights file's record has no training runs to summarise
            summary = distinct([record])
            print("summary: " + "; ".join(f"{k} {', '.join(v)}" for k, v in summary.items()))
        print(yaml.safe_dump(record, sort_keys=False, default_flow_style=False, width=120).rstrip())
    return 0
