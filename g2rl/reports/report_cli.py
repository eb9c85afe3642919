"""``g2rl report``: the tables and figures of the report, one subcommand each (:data:`SUBCOMMANDS`):
Table 1, its evidence and the G2RL-vs-Baseline table from ``metrics.json`` files, the ablation,
the sensitivity figures, the example figures (heatmaps, intensity curves) of one trained fold and
the training curves.

    g2rl report table1 --dataset bp4d --baseline B.json [...] --g2rl G.json [...] \\
        --paper config/paper_table1.csv --data-label demo --out-prefix results/tables/table1_bp4d
    g2rl report sensitivity --param sigma --out-prefix results/figures/sensitivity_sigma M.json [...]
    g2rl report examples --model fold1/model.pt --predictions fold1/predictions.csv \
        --crops results/disfa/cache/crops.h5 --heatmaps-out heatmaps.png --curves-out curves.png
    g2rl report ablation --dataset disfa --rows ROWS.json --data-label demo --out-prefix results/disfa/ablation/table
    g2rl report training --out-prefix results/figures/training_disfa --data-label demo .../train_log.csv [...]

Every figure command takes --data-label: 'demo' stamps DEMO DATA on the figure.

Several files per method (table1) or per (dataset, value) (sensitivity) are seeds: averaged.
For the sensitivity figure each file's dataset and swept value come from its ``run`` labels
(``g2rl evaluate --run dataset=.. sigma=.. lambda=..``) or, failing those, from the workflow's
path layout ``<dataset>/runs/<method>/sigma<S>/lambda<L>/seed<N>/metrics.json``.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pandas as pd

from g2rl.cli_lists import WordList
from g2rl.errors import G2RLError
from g2rl.model.variants import VARIANT_PREFIX
from g2rl.paths import refuse_output_over_input
from g2rl.reports.evaluate import read_metrics_json
from g2rl.reports.paper_table import PACKAGED_PAPER_TABLE
from g2rl.reports.run_files import headline_section, run_labels

log = logging.getLogger(__name__)

# subcommand -> what it writes: `g2rl report -h` lists them all (tests/test_cli_help.py checks it)
SUBCOMMANDS = {
    "table1": "Table 1 (csv, md, tex, html): our Baseline and G2RL next to the paper's rows",
    "evidence": "evidence.json: seeds and two-level bootstrap CIs of Table 1's rows, and their paired differences to the Baseline",
    "compare": "the G2RL-vs-Baseline table (csv, md, html) from evidence.json files, one block per G2RL row",
    "sensitivity": "ICC and MAE vs sigma or lambda, one line per dataset, the Baseline as reference (Figs. 6-7; png, pdf)",
    "examples": "heatmaps over test faces (Fig. 4) and intensity curves (Fig. 5) of one fold (png, pdf)",
    "ablation": "Baseline, G2RL and its variants on the same folds, with seeds and CIs (csv, md, html)",
    "training": "loss terms per epoch of training runs (train_log.csv), one panel per term (png, pdf)",
    "home": "the report's home page (rst): the run's title, its result in one line per dataset, what was run",
}
DATASET_CHOICES = ("bp4d", "disfa")
VARIANT_NAME = "[a-z0-9_]+"  # the config schema's pattern for ablation variant names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "The report's tables and figures, one subcommand each (g2rl report WHAT -h for its options)."
    sub = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    t = sub.add_parser("table1", help=SUBCOMMANDS["table1"], description=SUBCOMMANDS["table1"])
    t.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="which dataset's Table 1")
    t.add_argument("--baseline", nargs="+", required=True, metavar="FILE.json", help="Baseline metrics.json, one per seed")
    t.add_argument("--g2rl", nargs="+", required=True, metavar="FILE.json", help="G2RL metrics.json, one per seed")
    t.add_argument("--paper", metavar="FILE.csv", default=str(PACKAGED_PAPER_TABLE),
                   help="the published numbers (default: the copy shipped in the package, config/paper_table1.csv)")
    t.add_argument("--data-label", required=True, choices=["demo", "real"], help="what our rows were computed on")
    t.add_argument("--out-prefix", required=True, help="writes <prefix>.csv, .md, .tex, .html")
    t.add_argument("--caption", metavar="TEXT", help="title (default: 'Table 1 (<DATASET>): ICC and MAE per AU')")
    t.add_argument("--evidence", metavar="FILE.json", help="evidence.json of the dataset (g2rl report evidence): sd, CIs, marks")
    add_variant_argument(t)
    v = sub.add_parser("evidence", help=SUBCOMMANDS["evidence"], description=SUBCOMMANDS["evidence"])
    v.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="the dataset of the runs")
    v.add_argument("--baseline", nargs="+", required=True, metavar="FILE.json", help="Baseline metrics.json, one per seed")
    v.add_argument("--g2rl", nargs="+", required=True, metavar="FILE.json", help="G2RL metrics.json, one per seed (same seeds)")
    v.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the test subjects (default 1000)")
    v.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    v.add_argument("--out", required=True, metavar="FILE.json", help="evidence.json to write")
    add_variant_argument(v)
    c = sub.add_parser("compare", help=SUBCOMMANDS["compare"], description=SUBCOMMANDS["compare"])
    c.add_argument("--data-label", required=True, choices=["demo", "real"], help="what the runs were computed on")
    c.add_argument("--out-prefix", required=True, help="writes <prefix>.csv, .md and .html")
    c.add_argument("evidence", nargs="+", metavar="FILE.json", help="evidence.json, one per dataset")
    s = sub.add_parser("sensitivity", help=SUBCOMMANDS["sensitivity"], description=SUBCOMMANDS["sensitivity"])
    s.add_argument("--param", required=True, choices=["sigma", "lambda"], help="the swept parameter (x axis)")
    s.add_argument("--out-prefix", required=True, help="writes <prefix>.png and .pdf")
    s.add_argument("metrics", nargs="+", metavar="FILE.json", help="metrics.json of every (dataset, value, seed)")
    s.add_argument("--baseline", nargs="+", metavar="FILE.json",
                   help="the Baseline's metrics.json (any seeds): a dashed reference line per dataset")
    s.add_argument("--data-label", required=True, choices=["demo", "real"], help="demo: stamp 'DEMO DATA'")
    e = sub.add_parser("examples", help=SUBCOMMANDS["examples"], description=SUBCOMMANDS["examples"])
    e.add_argument("--model", required=True, metavar="FILE.pt", help="the fold's model.pt")
    e.add_argument("--predictions", required=True, metavar="FILE.csv", help="the fold's predictions.csv")
    e.add_argument("--crops", required=True, metavar="FILE.h5", help="the dataset's crops.h5")
    e.add_argument("--heatmaps-out", required=True, metavar="FILE.png", help="PNG for the heatmap figure (a .pdf is written beside it)")
    e.add_argument("--curves-out", required=True, metavar="FILE.png", help="PNG for the intensity curves (a .pdf is written beside it)")
    e.add_argument("--baseline-predictions", metavar="FILE.csv", help="the Baseline's predictions.csv of the same fold, drawn in the curves")
    e.add_argument("--dataset", choices=["bp4d", "disfa"], help="names the session in the curves' title (BP4D: task)")
    e.add_argument("--heatmaps-page", metavar="FILE.html", help="also write the heatmap figure as an HTML page (the report's view: "
                   "a tall PNG is cut off at the top there)")
    e.add_argument("--samples", type=int, default=2, help="faces in the heatmap figure (default 2)")
    e.add_argument("--curve-aus", action=WordList, metavar="AU",
                   help="AUs of the curves, e.g. AU01 AU02 (commas also separate; default: the first two)")
    e.add_argument("--data-label", required=True, choices=["demo", "real"], help="demo: stamp 'DEMO DATA'")
    a = sub.add_parser("ablation", help=SUBCOMMANDS["ablation"], description=SUBCOMMANDS["ablation"])
    a.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="the dataset of the runs")
    a.add_argument("--rows", required=True, metavar="JSON",
                   help="JSON list (or a file with one) of {name, changes, runs: [{seed, predictions, train_logs}]}; "
                        "the first row is the Baseline the others are paired with")
    a.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the test subjects (default 1000)")
    a.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    a.add_argument("--aus", action=WordList, metavar="AU",
                   help="AUs, e.g. AU01 AU02 (commas also separate; default: those of the first predictions file)")
    a.add_argument("--data-label", required=True, choices=["demo", "real"], help="what the runs were computed on")
    a.add_argument("--out-prefix", required=True, help="writes <prefix>.csv, .md and .html")
    a.add_argument("--crops", metavar="FILE.h5", help="the dataset's crops.h5: adds the landmark geometry probe of each row's models "
                                   "(model.pt beside each predictions.csv; g2rl.reports.geometry_probe)")
    a.add_argument("--probe-frames", type=int, default=32, metavar="N",
                   help="frames per subject the probe reads, training and test subjects alike (default 32)")
    a.add_argument("--probe-device", default="cpu", metavar="DEVICE", help="where the probe's forward passes run (default cpu)")
    tr = sub.add_parser("training", help=SUBCOMMANDS["training"], description=SUBCOMMANDS["training"])
    tr.add_argument("logs", nargs="+", metavar="FILE.csv", help="train_log.csv files, laid out as <method>/sigma<S>/lambda<L>/seed<N>/fold<F>/")
    tr.add_argument("--out-prefix", required=True, help="writes <prefix>.png and .pdf")
    tr.add_argument("--title", default="Training curves", metavar="TEXT", help="figure title")
    tr.add_argument("--data-label", required=True, choices=["demo", "real"], help="demo: stamp 'DEMO DATA'")
    h = sub.add_parser("home", help=SUBCOMMANDS["home"], description=SUBCOMMANDS["home"])
    h.add_argument("--settings", required=True, metavar="JSON",
                   help="what was run: a JSON object as g2rl.reports.home.home_settings makes it from the workflow's "
                        "config (the workflow's report_home rule passes it)")
    h.add_argument("--table1", nargs="+", required=True, metavar="FILE.csv", help="Table 1 CSV, one per dataset")
    h.add_argument("--evidence", nargs="+", required=True, metavar="FILE.json",
                   help="evidence.json of the same datasets, in the same order")
    h.add_argument("--out", required=True, metavar="FILE.rst", help="the page to write")


def add_variant_argument(parser: argparse.ArgumentParser) -> None:
    """``--variant NAME METRICS.json...``, repeatable: an extra Table 1 row, the runs of ``g2rl-NAME``."""
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar="WORD",
                        help="an extra row: a variant name (e.g. stopgrad_aux: the runs of method g2rl-stopgrad_aux) "
                             "then its metrics.json, one per seed; repeat for more rows")


def table1_rows(args: argparse.Namespace) -> dict[str, list[str]]:
    """{workflow method: metrics.json per seed} of the rows given: baseline, g2rl, then each ``--variant``."""
    rows = {"baseline": list(args.baseline), "g2rl": list(args.g2rl)}
    for words in args.variant:
        name, files = words[0], words[1:]
        if not re.fullmatch(VARIANT_NAME, name) or not files:
            raise G2RLError(f"--variant {' '.join(words)}: give a variant name ({VARIANT_NAME}) then its metrics.json "
                            "files, one per seed")
        if f"{VARIANT_PREFIX}{name}" in rows:
            raise G2RLError(f"--variant {name} is given twice")
        rows[f"{VARIANT_PREFIX}{name}"] = files
    return rows


def method_folder(path: str | Path) -> str:
    """The method folder of a run file in the workflow's layout (``.../runs/<method>/...``); 'run' elsewhere."""
    m = re.search(r"(?:^|/)runs/([^/]+)/", Path(path).as_posix())
    return m.group(1) if m else "run"


def baseline_records(paths: list[str]) -> pd.DataFrame:
    """One row per dataset (dataset, icc, mae): the Baseline's headline averages, mean over seeds,
    the sensitivity figures' reference lines."""
    rows = []
    for path in paths:
        metrics = read_metrics_json(path)
        labels = run_labels(path, metrics)
        if "dataset" not in labels:
            raise G2RLError(f"{path}: cannot tell its dataset: no 'run' labels and the path is not in the run layout")
        avg = headline_section(path, metrics)["avg"]
        rows.append({"dataset": labels["dataset"], "icc": avg["icc"], "mae": avg["mae"]})
    return pd.DataFrame(rows).astype({"icc": float, "mae": float}).groupby("dataset", as_index=False).mean()


def sensitivity_records(paths: list[str], param: str) -> pd.DataFrame:
    """One row per (dataset, value): the headline average ICC and MAE, mean over seeds."""
    rows = []
    for path in paths:
        metrics = read_metrics_json(path)
        labels = run_labels(path, metrics)
        missing = [k for k in ("dataset", param) if k not in labels]
        if missing:
            raise G2RLError(
                f"{path}: cannot tell its {' and '.join(missing)}: no 'run' labels and the path does not match "
                "<dataset>/runs/<method>/sigma<S>/lambda<L>/seed<N>/metrics.json"
            )
        sec = headline_section(path, metrics)
        try:
            value = float(labels[param])
        except ValueError:
            raise G2RLError(f"{path}: {param} label {labels[param]!r} is not a number") from None
        boot = (metrics.get("bootstrap") or {}).get("avg") or {}
        ci = {f"{m}_ci_{end}": (boot.get(f"{m}_ci") or [None, None])[j]
              for m in ("icc", "mae") for j, end in enumerate(("lo", "hi"))}
        rows.append({"dataset": labels["dataset"], "param": param, "value": value,
                     "icc": sec["avg"]["icc"], "mae": sec["avg"]["mae"], **ci, "file": str(path)})
    df = pd.DataFrame(rows)
    df[["icc", "mae", *ci]] = df[["icc", "mae", *ci]].astype(float)  # null -> NaN
    return with_error_bars(df)


def with_error_bars(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, param, value) from one row per run: mean ICC / MAE over seeds, and
    error bars ``<m>_lo`` / ``<m>_hi``: mean -+ sd over seeds when every point has several seeds,
    else (one seed per point) the run's 95 % bootstrap CI over test subjects. Points with one
    seed in a figure whose others have several get no bar. ``attrs['error_bars']`` says which."""
    keys = ["dataset", "param", "value"]
    g = runs.groupby(keys, as_index=False)
    out = g[["icc", "mae"]].mean()
    n = g.size()["size"].to_numpy()
    sd = g[["icc", "mae"]].std(ddof=1)
    if n.max() >= 2:
        for m in ("icc", "mae"):
            out[f"{m}_lo"] = (out[m] - sd[m]).where(n >= 2)
            out[f"{m}_hi"] = (out[m] + sd[m]).where(n >= 2)
        out.attrs["error_bars"] = (f"error bars: mean ± sd over {n.min()}-{n.max()} seeds" if n.min() != n.max()
                                   else f"error bars: mean ± sd over {n.min()} seeds")
        if n.min() < 2:
            out.attrs["error_bars"] += " (points with one seed have none)"
    else:
        first = g[[f"{m}_ci_{e}" for m in ("icc", "mae") for e in ("lo", "hi")]].first()
        for m in ("icc", "mae"):
            out[f"{m}_lo"], out[f"{m}_hi"] = first[f"{m}_ci_lo"], first[f"{m}_ci_hi"]
        has = out["icc_lo"].notna().any()
        out.attrs["error_bars"] = ("error bars: 95 % bootstrap CI over test subjects (one seed per point)" if has
                                   else "no error bars: one seed per point and no bootstrap CI in metrics.json")
    return out


def _refuse_overwriting_inputs(args: argparse.Namespace) -> None:
    """No output of any report (prefix + each extension, figure paths) may be one of its inputs."""
    prefix = getattr(args, "out_prefix", None)
    outputs = {f"--out-prefix ({ext})": f"{prefix}{ext}" for ext in (".csv", ".md", ".tex", ".html", ".png", ".pdf")} if prefix else {}
    outputs.update({f"--{a.replace('_', '-')}": getattr(args, a, None) for a in ("heatmaps_out", "curves_out", "heatmaps_page")})
    outputs["--out"] = getattr(args, "out", None)
    inputs = {f"--{a}": getattr(args, a, None) for a in ("baseline", "g2rl", "paper", "metrics", "model", "predictions", "crops", "logs",
                                                          "table1", "evidence")}
    inputs["--variant"] = [p for words in getattr(args, "variant", None) or [] for p in words[1:]]
    refuse_output_over_input(f"report {args.what}", outputs, inputs)


def main(args: argparse.Namespace) -> int:
    from g2rl.config_ranges import check_options

    check_options(args, {"bootstrap_seed": "experiments.bootstrap.seed", "resamples": "experiments.bootstrap.resamples"})
    _refuse_overwriting_inputs(args)
    if args.what == "table1":
        from g2rl.reports.model_label import metrics_model, row_identities
        from g2rl.reports.stamp import metrics_records, rows_stamp
        from g2rl.reports.table1 import DATASET_NAMES, build_table1, name_variant, write_table1

        files = table1_rows(args)
        loaded = {p: read_metrics_json(p) for paths in files.values() for p in paths}
        ids = row_identities({row: [loaded[p] for p in paths] for row, paths in files.items()})
        ours = {ids[row]["label"]: [loaded[p] for p in paths] for row, paths in files.items()}
        df = build_table1(args.dataset, ours, args.paper, args.data_label)
        if args.evidence:
            from g2rl.reports.evidence_report import read_evidence
            from g2rl.reports.table1_evidence import attach_evidence

            attach_evidence(df, read_evidence(args.evidence))
        for row, paths in files.items():  # which G2RL: from its runs' records
            if row != "baseline":
                name_variant(df, ids[row]["label"], metrics_model(loaded[p] for p in paths))
        # initialisation and provenance (single or MIXED; each row's runs one config) go into the caption
        by_row = {ids[row]["label"]: metrics_records({p: loaded[p] for p in paths}) for row, paths in files.items()}
        _, notes = rows_stamp([f"{args.out_prefix}.csv"], by_row, "table1")
        df.attrs["notes"] = [*df.attrs.get("notes", []), *notes]
        caption = args.caption or f"Table 1 ({DATASET_NAMES.get(args.dataset, args.dataset)}): ICC and MAE per AU"
        paths = write_table1(df, args.out_prefix, caption)
        for label in ours:
            row = df[(df["source"] == "ours") & (df["method"] == label)].set_index("metric")["Avg"]
            log.info("%s (ours): avg ICC %.3f, avg MAE %.3f", label, row["ICC"], row["MAE"])
        log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
        return 0
    if args.what == "evidence":
        from g2rl.evidence import BootstrapSettings
        from g2rl.reports.evidence_report import build_evidence, write_evidence

        settings = BootstrapSettings(args.resamples, args.bootstrap_seed).validate()
        ev = build_evidence(args.dataset, table1_rows(args), settings)
        for row, d in ev["differences"].items():
            for m in ("icc", "mae"):
                c = d["avg"][m]
                log.info("%s: %s avg %s %+.3f [%+.4f, %+.4f] (per seed %s), better in %.0f%% of resamples%s",
                         args.dataset, d["label"], m.upper(), c["diff"], c["ci"][0], c["ci"][1],
                         ", ".join(f"{v:+.3f}" for v in c["per_seed"]), 100 * c["win_share"],
                         f", marked {c['mark']}" if c["mark"] else "")
        log.info("wrote %s", write_evidence(ev, args.out))
        return 0
    if args.what == "compare":
        from g2rl.reports.comparison import comparison_frame, comparison_note, write_comparison
        from g2rl.reports.evidence_report import read_evidence

        evs = [read_evidence(p) for p in args.evidence]
        note = comparison_note([ev["dataset"] for ev in evs], args.data_label)
        from g2rl.reports.table1_evidence import fold_mean_notes

        paths = write_comparison(comparison_frame(evs), args.out_prefix, note,
                                 {ev["dataset"]: fold_mean_notes(ev) for ev in evs})
        log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
        return 0
    if args.what == "sensitivity":
        from g2rl.reports.figures import plot_sensitivity

        records = sensitivity_records(args.metrics, args.param)
        log.info("sensitivity to %s (%s):\n%s", args.param, records.attrs.get("error_bars"), records.to_string(index=False))
        baseline = baseline_records(args.baseline) if args.baseline else None
        from g2rl.reports.model_label import metrics_model, variant_name
        from g2rl.reports.stamp import FIGURE_KEYS, metrics_records, stamp

        loaded = {p: read_metrics_json(p) for p in [*args.metrics, *(args.baseline or [])]}
        variant = variant_name(metrics_model(loaded[p] for p in args.metrics))  # which G2RL the sweep trained
        paths = plot_sensitivity(records, args.out_prefix, demo=args.data_label == "demo", baseline=baseline,
                                 method=f"G2RL ({variant})" if variant else "G2RL")
        side, notes = stamp(paths, metrics_records(loaded), f"sensitivity_{args.param}", FIGURE_KEYS)
        log.info("%s: %s", side, " ".join(notes))
        log.info("wrote %s", ", ".join(str(p) for p in paths))
        return 0
    if args.what == "examples":
        from g2rl.reports.examples import make_example_figures

        curve_aus = args.curve_aus or None
        paths = make_example_figures(args.model, args.predictions, args.crops, args.heatmaps_out, args.curves_out,
                                     n_samples=args.samples, curve_aus=curve_aus, demo=args.data_label == "demo",
                                     baseline_predictions=args.baseline_predictions, dataset=args.dataset,
                                     heatmaps_page=args.heatmaps_page)
        from g2rl.reports.stamp import example_inputs, stamp

        inputs = example_inputs(args.model, args.predictions)
        for path in paths:
            if path.suffix != ".html":
                stamp([path], inputs, Path(path).stem)
        log.info("wrote %s", ", ".join(str(p) for p in paths))
        return 0
    if args.what == "ablation":
        from g2rl.reports.ablation import read_rows, write_ablation

        aus = args.aus or None
        from g2rl.evidence import BootstrapSettings

        settings = BootstrapSettings(args.resamples, args.bootstrap_seed).validate()
        rows = read_rows(args.rows)
        probe = None
        if args.crops:
            from g2rl.reports.geometry_probe import ablation_probe

            probe = ablation_probe(rows, args.crops, settings, args.probe_frames, args.probe_device)  # same resamples
        table = write_ablation(rows, args.out_prefix, args.dataset, args.data_label, aus, settings, probe)
        cols = [c for c in ("method", "vs", "ICC_avg", "ICC_diff", "MAE_avg", "MAE_diff", "g_spread_final",
                            "guidance_share", "probe_r2", "probe_diff") if c in table.columns]
        log.info("ablation %s:\n%s", args.dataset, table[cols].to_string(index=False))
        return 0
    if args.what == "training":
        from g2rl.reports.training_curves import plot_training_curves, read_training_logs

        runs = read_training_logs(args.logs)
        paths = plot_training_curves(runs, args.out_prefix, args.title, demo=args.data_label == "demo")
        from g2rl.provenance import predictions_provenance
        from g2rl.reports.stamp import FIGURE_KEYS, rows_stamp

        # each train_log.csv sits beside its run's predictions.csv, whose sidecar holds the training record;
        # the figure shows several methods on purpose, so a config must agree within each method only
        inputs = predictions_provenance([Path(p).with_name("predictions.csv") for p in args.logs])["inputs"]
        by_method = {}
        for path, record in inputs.items():
            by_method.setdefault(method_folder(path), {})[path] = record
        rows_stamp(paths, by_method, Path(paths[0]).stem, FIGURE_KEYS)
        log.info("wrote %s", ", ".join(str(p) for p in paths))
        return 0
    if args.what == "home":
        from g2rl.reports.evidence_report import read_evidence
        from g2rl.reports.home import dataset_result, home_page, read_settings, write_home

        if len(args.table1) != len(args.evidence):
            raise G2RLError(f"report home: {len(args.table1)} --table1 file(s) for {len(args.evidence)} --evidence file(s)")
        results = []
        for table1, path in zip(args.table1, args.evidence):
            evidence = read_evidence(path)
            results.append(dataset_result(evidence["dataset"], table1, evidence))
        log.info("wrote %s", write_home(home_page(read_settings(args.settings), results), args.out))
        return 0
    raise G2RLError(f"unknown report {args.what!r}")
