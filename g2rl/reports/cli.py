"""``g2rl evaluate``: ICC / MAE / PCC of predictions CSV(s) -> metrics.json.

    g2rl evaluate results/.../predictions.csv --out metrics.json
    g2rl evaluate fold1.csv fold2.csv fold3.csv --out metrics.json --pooled   # DISFA protocol
    g2rl evaluate ... --diagnostics fold1/diagnostics.json ... [--resamples 1000 --bootstrap-seed 0]
"""

from __future__ import annotations

import argparse
import logging

from g2rl.cli_lists import WordList
from g2rl.evidence import BootstrapSettings
from g2rl.paths import refuse_output_over_input
from g2rl.provenance import predictions_provenance
from g2rl.reports.evaluate import evaluate_runs, write_metrics_json
from g2rl.reports.evidence_report import diagnostics_key

log = logging.getLogger(__name__)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", nargs="+", metavar="FILE.csv", help="predictions.csv file(s), one per fold")
    parser.add_argument("--out", required=True, metavar="FILE.json", help="metrics.json to write")
    parser.add_argument(
        "--pooled", action="store_true",
        help="also compute the metrics over all folds together (every frame must occur once)",
    )
    parser.add_argument(
        "--aus", action=WordList, metavar="AU",
        help="AUs to evaluate, e.g. AU01 AU02 (commas also separate; default: every AUxx_pred column)",
    )
    parser.add_argument("--resamples", type=int, default=1000,
                        help="bootstrap resamples of the test subjects for the CI (default 1000; 0: no CI)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--diagnostics", nargs="+", metavar="JSON",
                        help="each fold's diagnostics.json (g2rl train): teach score, final L_G, g_spread")
    parser.add_argument(
        "--run", nargs="*", type=_key_value, default=[], metavar="KEY=VALUE",
        help="labels stored under 'run' in metrics.json, e.g. dataset=disfa method=g2rl sigma=2",
    )


def main(args: argparse.Namespace) -> int:
    from g2rl.config_ranges import check_options

    check_options(args, {"bootstrap_seed": "experiments.bootstrap.seed"})  # --resamples 0 (no CI) is evaluate's own
    refuse_output_over_input("evaluate", {"--out": args.out},
                             {"predictions": args.predictions, "--diagnostics": args.diagnostics})
    aus = args.aus or None
    boot = BootstrapSettings(args.resamples, args.bootstrap_seed).validate() if args.resamples else None
    metrics = evaluate_runs(args.predictions, aus=aus, pooled=args.pooled, bootstrap=boot)
    if args.diagnostics:
        metrics["diagnostics"] = diagnostics_key(args.diagnostics)
    metrics["provenance"] = predictions_provenance(args.predictions)
    if args.run:
        metrics["run"] = dict(args.run)
    write_metrics_json(metrics, args.out)
    fmt = lambda v: "nan" if v is None else f"{v:.3f}"  # noqa: E731
    sections = [(f"fold {k}", v) for k, v in metrics["folds"].items()]
    if metrics["pooled"] is not None:
        sections.append(("pooled", metrics["pooled"]))
    for name, sec in sections:
        avg = sec["avg"]
        log.info("%s: %s, %d frames: avg ICC %s, MAE %s, PCC %s", args.out, name, sec["n_frames"],
                 fmt(avg["icc"]), fmt(avg["mae"]), fmt(avg["pcc"]))
        if avg["note"]:
            log.warning("%s: %s: %s", args.out, name, avg["note"])
    return 0
