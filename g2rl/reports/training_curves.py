"""Training curves: each run's loss terms per epoch (``train_log.csv``), one panel per term.

A run is one training job, identified by its folder in the workflow's layout
``.../<method>/sigma<S>/lambda<L>/seed<N>/fold<F>/train_log.csv``. The figure puts every run of a
dataset together: colour = method, line style = test fold, marker = seed, so a diverging fold or
a guidance term that collapses to zero is visible at a glance. Terms a run does not have (the
Baseline's guidance and auxiliary losses are empty in its log) are simply not drawn for it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from g2rl.csvread import read_csv_file
from g2rl.errors import G2RLError

_RUN_DIR = re.compile(
    r"(?:^|/)(?P<method>[^/]+)/sigma(?P<sigma>[^/]+)/lambda(?P<lam>[^/]+)/seed(?P<seed>[^/]+)/fold(?P<fold>[^/]+)/[^/]+$"
)
# What each loss column of train_log.csv is, named as the training log line names it (L, L_S, L_G,
# L_teach); loss_aux is the older logs' name of loss_teach. A panel's title is
# "<symbol> <what> (<column>)" (term_title), so the figure, the CSV and the log all meet.
TERM_NAMES = {
    "loss_total": ("L", "total: Eq. 8 + teach loss"),
    "loss_heatmap": ("L_S", "heatmap loss (Eq. 8's L'_S)"),
    "loss_guidance": ("L_G", "guidance loss"),
    "loss_teach": ("L_teach", "geometry branch's intensity loss"),
    "loss_aux": ("L_teach", "geometry branch's intensity loss"),
}
METHOD_COLOURS = {"baseline": "tab:blue", "g2rl": "tab:red"}
_FOLD_STYLES = ("-", "--", ":", "-.")
_SEED_MARKERS = ("o", "s", "^", "D", "v")


@dataclass
class TrainingRun:
    """One run's log: labels from its path, and its rows (epoch, loss_* columns)."""

    method: str
    sigma: str
    lam: str
    seed: str
    fold: str
    log: pd.DataFrame
    path: str

    @property
    def label(self) -> str:
        return f"{self.method} fold {self.fold} seed {self.seed}"


def read_training_log(path: str | os.PathLike) -> TrainingRun:
    """Read one ``train_log.csv``; its run labels come from the path (see module docstring).

    Raises :class:`G2RLError` naming the file when it is missing, unreadable, has no ``epoch`` or
    no ``loss_*`` column, or lies outside the workflow's run layout.
    """
    path = Path(path)
    m = _RUN_DIR.search(path.as_posix())
    if not m:
        raise G2RLError(f"{path}: not in the run layout <method>/sigma<S>/lambda<L>/seed<N>/fold<F>/train_log.csv")
    log = read_csv_file(path, "training log")
    losses = [c for c in log.columns if c.startswith("loss_")]
    if "epoch" not in log.columns or not losses:
        raise G2RLError(f"{path}: needs an 'epoch' column and loss_* columns, has {list(log.columns)}")
    if log.empty:
        raise G2RLError(f"{path}: no epochs logged")
    return TrainingRun(**m.groupdict(), log=log, path=str(path))


def read_training_logs(paths: Sequence[str | os.PathLike]) -> list[TrainingRun]:
    """:func:`read_training_log` of each path, sorted by (method, sigma, lambda, fold, seed)."""
    if not paths:
        raise G2RLError("no training logs given")
    runs = [read_training_log(p) for p in paths]
    return sorted(runs, key=lambda r: (r.method, r.sigma, r.lam, r.fold, r.seed))


def loss_terms(runs: Sequence[TrainingRun]) -> list[str]:
    """The loss columns that hold a value in at least one run, total first, in a stable order."""
    seen: list[str] = []
    for run in runs:
        for c in run.log.columns:
            if c.startswith("loss_") and c not in seen and run.log[c].notna().any():
                seen.append(c)
    known = [c for c in TERM_NAMES if c in seen]
    return known + [c for c in seen if c not in TERM_NAMES]


def term_title(column: str) -> str:
    """A loss panel's title: symbol, meaning and the train_log.csv column ('L_G guidance loss
    (loss_guidance)'); a column not in :data:`TERM_NAMES` is titled by its name alone."""
    if column not in TERM_NAMES:
        return column
    symbol, what = TERM_NAMES[column]
    return f"{symbol} {what} ({column})"


def plot_training_curves(
    runs: Sequence[TrainingRun], out_prefix: str | os.PathLike, title: str, demo: bool = False
) -> list[Path]:
    """Write ``<out_prefix>.png`` and ``.pdf``: one panel per loss term (mean loss per sample over an
    epoch vs epoch), one line per run. ``demo`` stamps "DEMO DATA". Returns [png, pdf]."""
    from g2rl.reports.figures import plt, save_png_and_pdf, stamp_demo

    if not runs:
        raise G2RLError("training curves: no runs")
    terms = loss_terms(runs)
    if not terms:
        raise G2RLError(f"training curves: no loss values in {len(runs)} log(s), e.g. {runs[0].path}")
    folds = sorted({r.fold for r in runs})
    seeds = sorted({r.seed for r in runs})
    ncols = min(2, len(terms))
    nrows = -(-len(terms) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 2.9 * nrows + 0.5), squeeze=False,
                             layout="constrained")
    for ax, term in zip(axes.ravel(), terms):
        for run in runs:
            values = run.log[term].astype(float)
            if not values.notna().any():
                continue
            ax.plot(run.log["epoch"], values, color=METHOD_COLOURS.get(run.method, "tab:gray"),
                    linestyle=_FOLD_STYLES[folds.index(run.fold) % len(_FOLD_STYLES)],
                    marker=_SEED_MARKERS[seeds.index(run.seed) % len(_SEED_MARKERS)], markersize=3, lw=1.2,
                    label=run.label)
        ax.set_title(term_title(term), fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean loss per sample")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes.ravel()[len(terms):]:
        ax.set_axis_off()
    # one legend for the figure, below the panels: with many runs it would cover the curves inside a panel
    handles, labels = {}, []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[lab] for lab in labels], labels, loc="outside lower center", ncols=min(4, len(labels)),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    if demo:
        stamp_demo(fig)
    out_prefix = Path(out_prefix)
    paths = save_png_and_pdf(fig, out_prefix.with_name(out_prefix.name + ".png"))
    plt.close(fig)
    return paths
