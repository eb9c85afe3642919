"""The paper's figures from our runs (matplotlib, Agg backend: no display needed).

- :func:`plot_sensitivity`: ICC and MAE vs sigma / vs lambda, one line per dataset (Figs. 6, 7).
- :func:`plot_heatmap_examples`: a face, then each AU's predicted heatmap over it (the face in
  grey, the map in a perceptual colour map whose opacity grows with the value), titled
  "label x pred y", on a fixed 0-5 intensity colour scale (Fig. 4).
- :func:`plot_intensity_curves`: G2RL's and the Baseline's predicted vs true intensity over frames
  for one subject and two AUs (Fig. 5).
- :func:`stamp_demo`: "DEMO DATA" on every figure made from the demo dataset.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: figures are written by batch jobs without a display

import matplotlib.pyplot as plt  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from g2rl.atomic import atomic_path  # noqa: E402
from g2rl.errors import G2RLError  # noqa: E402

PARAM_SYMBOL = {"sigma": r"$\sigma$", "lambda": r"$\lambda$"}
DATASET_NAMES = {"bp4d": "BP4D", "disfa": "DISFA"}
_MARKERS = ("o", "s", "^", "D", "v")


def _save(fig, path: Path, dpi: int = 150) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return path


def save_png_and_pdf(fig, png: str | os.PathLike) -> list[Path]:
    """Write ``fig`` to ``png`` and to the same name with ``.pdf`` (vector, for a paper); returns [png, pdf]."""
    png = Path(png)
    return [_save(fig, png), _save(fig, png.with_suffix(".pdf"))]


DEMO_STAMP = "DEMO DATA"
MAE_LABEL = "MAE (intensity levels, 0-5)"
# Figure 4's colours: perceptual (lightness grows with the value, readable in grey print), unlike jet
HEATMAP_CMAP = "plasma"
# the opacity of a heatmap pixel at the top of the scale; below it opacity falls as sqrt(value / top),
# so a map at intensity 0.5 still shows (alpha 0.27) while the face under a zero map stays plain grey
HEATMAP_MAX_ALPHA = 0.85
BASELINE_COLOUR = "tab:blue"
G2RL_COLOUR = "tab:red"


# the watermark's colour: a grey no series of ours uses (blue/red methods, C0.. datasets, black truth), drawn
# behind the data so it never crosses a line, a marker or a legend as if it were one of them
DEMO_WATERMARK = {"color": "0.5", "alpha": 0.2}


def stamp_demo(fig) -> None:
    """Mark a figure made from the demo dataset, in every format it is saved in: a red label above the top-left
    corner, outside every panel, and in each panel (image tiles included) a diagonal grey "DEMO DATA" behind its
    data, lines, markers and legend (zorder below theirs, clipped to the panel), so a cropped panel still says
    so and the stamp is never read as a series."""
    fig.text(0.0, 1.0, f"{DEMO_STAMP}: synthetic faces, not comparable with the paper", ha="left", va="bottom",
             color="#c0392b", fontsize=10, fontweight="bold", transform=fig.transFigure)
    from matplotlib import patheffects

    fig.canvas.draw()  # panel sizes are final only after layout
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if not (ax.images or ax.lines or ax.collections):  # an empty grid cell, a colour bar's own axes
            continue
        panel = ax.get_window_extent(renderer)
        mark = ax.text(0.5, 0.5, DEMO_STAMP, ha="center", va="center", rotation=25, fontsize=10.0,
                       fontweight="bold", transform=ax.transAxes, zorder=0.5, clip_on=True, **DEMO_WATERMARK)
        if ax.images:  # over a photograph: stronger, with a light edge, to read on dark and light faces alike
            mark.set_alpha(0.35)
            mark.set_path_effects([patheffects.withStroke(linewidth=2.0, foreground="white", alpha=0.5)])
        drawn = mark.get_window_extent(renderer)  # the rotated text's box at 10 pt
        mark.set_fontsize(min(60.0, 10.0 * 0.8 * min(panel.width / drawn.width, panel.height / drawn.height)))


def _short(x: float) -> str:
    """x with at most 3 decimals and no trailing zeros (0.05 -> '0.05', 2.0 -> '2')."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def param_tick_label(value: float) -> str:
    """Tick label for a swept value: '2', '0.05', or r'$\\sqrt{0.2}$' when the value is not a
    2-decimal number but its square is one to 0.1 % (the paper's sigma grid; the tolerance lets
    path labels such as '0.4472' or '2.236' be recognised too)."""
    if math.isclose(value, round(value, 2), rel_tol=0, abs_tol=1e-9):
        return _short(value)
    sq = value * value
    if round(sq, 2) > 0 and math.isclose(sq, round(sq, 2), rel_tol=1e-3):
        return rf"$\sqrt{{{_short(round(sq, 2))}}}$"
    return _short(value) if math.isclose(value, round(value, 3), abs_tol=1e-9) else f"{value:.3g}"


def plot_sensitivity(records: pd.DataFrame, out_prefix: str | os.PathLike, demo: bool = False,
                     baseline: pd.DataFrame | None = None, method: str = "G2RL") -> list[Path]:
    """ICC vs a parameter and MAE vs it, one line per dataset, as the paper's Figs. 6 and 7.

    ``records``: columns dataset ('bp4d' | 'disfa' | ...), param (one of 'sigma' | 'lambda' for
    all rows: one figure per parameter), value (the swept value), icc, mae (the run's average
    over AUs); one row per (dataset, value) (aggregate seeds before); optional icc_lo, icc_hi,
    mae_lo, mae_hi: error bar ends (NaN = none), described by ``records.attrs['error_bars']``,
    which is printed under the panels. ``baseline``: optional rows (dataset, icc, mae), one per
    dataset: the Baseline's averages, drawn as a dashed horizontal reference line in the dataset's
    colour. Writes ``<out_prefix>.png`` and ``<out_prefix>.pdf``: panel (a) ICC, panel (b) MAE.
    The x axis is numeric (sigma linear, lambda logarithmic: the paper's lambda grid spans two
    decades), ticked at the swept values, sigma as sqrt(0.2) etc. where it is one. ``demo`` stamps
    "DEMO DATA" on both files. ``method`` names the swept runs in the legend, with their variant (e.g.
    'G2RL (literal)': which G2RL the sweep trained). Returns [png, pdf].
    """
    need = {"dataset", "param", "value", "icc", "mae"}
    missing = sorted(need - set(records.columns))
    if missing:
        raise G2RLError(f"sensitivity records lack column(s) {missing}")
    if records.empty:
        raise G2RLError("sensitivity records are empty")
    params = sorted(set(records["param"]))
    bad = sorted(set(params) - set(PARAM_SYMBOL))
    if bad:
        raise G2RLError(f"sensitivity records: unknown param(s) {bad}; expected 'sigma' or 'lambda'")
    if len(params) != 1:
        raise G2RLError(f"sensitivity records hold params {params}; draw one figure per param")
    param = params[0]
    dup = records.duplicated(subset=["dataset", "value"], keep=False)
    if dup.any():
        first = records.loc[dup, ["dataset", "param", "value"]].iloc[0].tolist()
        raise G2RLError(f"sensitivity records: several rows for (dataset, param, value) = {first}; aggregate seeds first")
    values = sorted(records["value"].astype(float).unique())
    if param == "lambda" and values[0] <= 0:
        raise G2RLError(f"sensitivity to lambda: values must be > 0 for the log axis, got {values[0]}")
    base = (baseline.set_index("dataset") if baseline is not None else pd.DataFrame(columns=["icc", "mae"]))
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4))
    for j, (dataset, d) in enumerate(records.groupby("dataset", sort=True)):
        d = d.sort_values("value")
        x = d["value"].astype(float).to_numpy()
        label = DATASET_NAMES.get(dataset, dataset)
        colour = f"C{j}"
        for ax, col in zip(axes, ("icc", "mae")):
            y = d[col].astype(float)
            # error bars when the records carry them (g2rl.reports.report_cli.with_error_bars)
            bars = [(y - d[f"{col}_lo"]).clip(lower=0), (d[f"{col}_hi"] - y).clip(lower=0)] if f"{col}_lo" in d else None
            ax.errorbar(x, y, yerr=None if bars is None else np.nan_to_num(np.asarray(bars, dtype=float)),
                        marker=_MARKERS[j % len(_MARKERS)], label=f"{method}, {label}", capsize=3, color=colour)
            if dataset in base.index:
                ax.axhline(float(base.loc[dataset, col]), color=colour, ls="--", lw=1.0, label=f"Baseline, {label}")
    sym = PARAM_SYMBOL[param]
    for ax, name, letter in zip(axes, ("ICC", "MAE"), "ab"):
        if param == "lambda":
            ax.set_xscale("log")
        ax.set_xticks(values, [param_tick_label(v) for v in values])
        ax.xaxis.set_minor_locator(NullLocator())  # only the swept values are ticked
        ax.set_xlabel(sym + (" (log scale)" if param == "lambda" else ""))
        ax.set_ylabel(MAE_LABEL if name == "MAE" else name)
        ax.set_title(f"({letter}) {name} w.r.t. {sym}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if records.attrs.get("error_bars"):
        fig.suptitle(records.attrs["error_bars"], y=0.02, va="bottom", fontsize=8)  # the caption says which bars
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    else:
        fig.tight_layout()
    if demo:
        stamp_demo(fig)
    out_prefix = Path(out_prefix)
    paths = save_png_and_pdf(fig, out_prefix.with_name(out_prefix.name + ".png"))
    plt.close(fig)
    return paths


def _label_text(true: float, pred: float) -> str:
    t = "n/a" if (true is None or np.isnan(true)) else f"{true:g}"
    return f"label {t}  pred {pred:.2f}"


def intensity_overlay(image: np.ndarray, heatmap: np.ndarray, vmax: float) -> np.ndarray:
    """A heatmap over a face, for reading intensities: the face in grey, the map coloured with
    :data:`HEATMAP_CMAP` on [0, vmax] with an opacity that grows with the value
    (``HEATMAP_MAX_ALPHA * sqrt(value / vmax)``), so a zero map leaves the face plain grey, a low
    map still shows, and the face is never tinted by the colour map's low end (as a 50 % jet blend does).

    image: (S, S, 3) uint8 RGB; heatmap: (H, W) float, resized bilinearly to S x S (here, not by
    matplotlib's display resampling, so the PNG does not depend on the figure size).
    Returns (S, S, 3) uint8.
    """
    h, w = image.shape[:2]
    resized = cv2.resize(np.nan_to_num(heatmap.astype(np.float32)), (w, h), interpolation=cv2.INTER_LINEAR)
    level = np.clip(resized / vmax, 0.0, 1.0).astype(np.float64)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)[..., None] / 255.0
    return _compose(grey, level)


def _compose(grey: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Colour of ``level`` (0-1 of the scale) over ``grey`` (0-1), as uint8 RGB (shapes broadcast)."""
    colours = matplotlib.colormaps[HEATMAP_CMAP](level)[..., :3]
    alpha = (HEATMAP_MAX_ALPHA * np.sqrt(level))[..., None]
    return np.clip(np.round(((1.0 - alpha) * grey + alpha * colours) * 255.0), 0, 255).astype(np.uint8)


def intensity_colourbar_map() -> matplotlib.colors.ListedColormap:
    """The colour bar of :func:`intensity_overlay`: each level as it looks over a mid-grey face."""
    return matplotlib.colors.ListedColormap(_compose(np.full((256, 1), 0.5), np.linspace(0, 1, 256)[:, None])[:, 0] / 255.0)


def heatmap_grid(n_aus: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of one sample's tiles (the input face, then one per AU): at most ``columns`` wide,
    and balanced, so a short last row is at most one tile short per row (13 tiles, 5 wide -> 3 x 5;
    6 tiles -> 2 x 3)."""
    tiles = n_aus + 1
    rows = math.ceil(tiles / max(1, columns))
    return rows, math.ceil(tiles / rows)


def plot_heatmap_examples(
    images: np.ndarray,
    heatmaps: np.ndarray,
    aus: Sequence[str],
    pred: np.ndarray,
    true: np.ndarray,
    out_png: str | os.PathLike,
    peak_per_intensity: float,
    captions: Sequence[str] | None = None,
    columns: int = 5,
    demo: bool = False,
    title: str | None = None,
) -> list[Path]:
    """Figure 4 style (:func:`heatmap_examples_figure`), written to ``out_png`` and the same name with
    ``.pdf``; returns [png, pdf]."""
    fig = heatmap_examples_figure(images, heatmaps, aus, pred, true, peak_per_intensity, captions, columns, demo,
                                  title=title)
    paths = save_png_and_pdf(fig, out_png)
    plt.close(fig)
    return paths


def heatmap_examples_figure(
    images: np.ndarray,
    heatmaps: np.ndarray,
    aus: Sequence[str],
    pred: np.ndarray,
    true: np.ndarray | None,
    peak_per_intensity: float,
    captions: Sequence[str] | None = None,
    columns: int = 5,
    demo: bool = False,
    tile_px: int | None = None,
    title: str | None = None,
):
    """Figure 4 style: per sample the input face, then each AU's heatmap over it, in rows of at most
    ``columns`` tiles (legible at report width), each titled with the AU, its label and prediction.

    images: (N, S, S, 3) uint8 RGB crops; heatmaps: (N, K, H, W) float predicted maps (any H, W;
    stretched over the S x S crop); aus: K names; pred, true: (N, K) intensities (true NaN =
    unlabelled, shown 'n/a'; ``true`` None = no labels, titles give the prediction alone).
    peak_per_intensity: the heatmap value of intensity 1
    (:func:`g2rl.preprocess.heatmaps.peak_value` (1, sigma)). The colour scale is fixed from 0 to
    intensity 5, as ``g2rl predict --heatmaps`` draws it, so one colour means one intensity in every
    tile and every figure; a colour bar gives the intensities (:func:`intensity_overlay`: the face
    in grey, the map's opacity growing with its value). captions: N titles of the input tiles
    (e.g. 'F002/T1 frame 120'). ``title``: the figure's title (which model the maps come from). ``demo``
    stamps "DEMO DATA". ``tile_px``: crops smaller than this are upsampled (bicubic) to it before the maps are
    drawn over them, so a 64 px crop still shows its features. Returns the matplotlib figure (the caller saves
    and closes it).
    """
    images = np.asarray(images)
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    labelled = true is not None
    true = np.asarray(true, dtype=np.float64) if labelled else np.full(pred.shape, np.nan)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise G2RLError(f"images must be (N, S, S, 3) uint8, got {images.shape} {images.dtype}")
    n, k = images.shape[0], len(aus)
    if heatmaps.ndim != 4 or heatmaps.shape[:2] != (n, k):
        raise G2RLError(f"heatmaps must be (N={n}, K={k}, H, W), got {heatmaps.shape}")
    if pred.shape != (n, k) or true.shape != (n, k):
        raise G2RLError(f"pred and true must be (N={n}, K={k}), got {pred.shape} and {true.shape}")
    if not (peak_per_intensity > 0 and math.isfinite(peak_per_intensity)):
        raise G2RLError(f"peak_per_intensity must be a positive number, got {peak_per_intensity!r}")
    if captions is not None and len(captions) != n:
        raise G2RLError(f"captions: {len(captions)} given for {n} samples")
    if tile_px is not None and images.shape[1] < tile_px:
        images = np.stack([cv2.resize(im, (tile_px, tile_px), interpolation=cv2.INTER_CUBIC) for im in images])
    vmax = 5.0 * peak_per_intensity
    rows, cols = heatmap_grid(k, columns)
    fig, axes = plt.subplots(n * rows, cols, figsize=(1.9 * cols + 0.9, 2.15 * rows * n), squeeze=False,
                             layout="constrained")
    for i in range(n):
        tiles = axes[i * rows:(i + 1) * rows].ravel()
        tiles[0].imshow(images[i])
        tiles[0].set_title("Input" + (f"\n{captions[i]}" if captions is not None else ""), fontsize=9, fontweight="bold")
        for j in range(k):
            tiles[j + 1].imshow(intensity_overlay(images[i], heatmaps[i, j], vmax))
            values = _label_text(true[i, j], pred[i, j]) if labelled else f"pred {pred[i, j]:.2f}"
            tiles[j + 1].set_title(f"{aus[j]}\n{values}", fontsize=9)
        for ax in tiles:
            ax.set_axis_off()
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0.0, 5.0), intensity_colourbar_map()),
                       ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, ticks=range(6))
    bar.set_label("heatmap as AU intensity (0-5); opacity grows with intensity", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    if demo:
        stamp_demo(fig)
    return fig


def plot_intensity_curves(
    pred_df: pd.DataFrame,
    aus: Sequence[str],
    out_png: str | os.PathLike,
    method: str = "predicted",
    fold: str | None = None,
    seed: int | str | None = None,
    demo: bool = False,
    baseline: pd.DataFrame | None = None,
    session_word: str = "session",
) -> list[Path]:
    """Figure 5 style: predicted and true intensity over frames, one panel per AU.

    pred_df: one subject's rows of a predictions CSV (columns subject, session, frame,
    ``<AU>_pred``, ``<AU>_true``), ordered by frame; aus: the AUs to draw (the paper shows two).
    Unlabelled frames (true NaN) leave gaps in the ground-truth line. ``method`` labels the
    prediction line (e.g. 'G2RL'); ``baseline``: the Baseline's predictions CSV rows (any rows:
    those of pred_df's (subject, session, frame) are drawn, dashed, beside it; a frame it lacks is a
    gap). ``fold`` (the test split), ``seed`` and the session (named ``session_word``: BP4D's
    sessions are tasks) go into the title; the legend sits above the panels, off the curves.
    ``demo`` stamps "DEMO DATA". Writes ``out_png`` and the same name with ``.pdf``; returns [png, pdf].
    """
    if pred_df.empty:
        raise G2RLError("intensity curves: no rows")
    for col in ("subject", "frame", *(f"{a}_{s}" for a in aus for s in ("pred", "true"))):
        if col not in pred_df.columns:
            raise G2RLError(f"intensity curves: predictions lack column {col!r}")
    subjects = pred_df["subject"].astype(str).unique()
    if len(subjects) != 1:
        raise G2RLError(f"intensity curves: rows of {len(subjects)} subjects given, expected one")
    frames = pred_df["frame"].to_numpy()
    sessions = pred_df["session"].astype(str).unique() if "session" in pred_df.columns else []
    if len(sessions) > 1:
        # several sessions: draw them one after another on a running index
        x, xlabel = np.arange(len(pred_df)), "frame (sessions concatenated)"
    else:
        if np.any(np.diff(frames) <= 0):
            raise G2RLError("intensity curves: rows are not ordered by frame")
        x, xlabel = frames, "frame"
    base = _aligned_baseline(pred_df, baseline, aus) if baseline is not None else None
    fig, axes = plt.subplots(len(aus), 1, figsize=(8.0, 2.2 * len(aus) + 0.6), sharex=True, squeeze=False,
                             layout="constrained")
    for ax, au in zip(axes[:, 0], aus):
        ax.plot(x, pred_df[f"{au}_true"].astype(float), color="black", lw=1.2, label="ground truth")
        if base is not None:
            ax.plot(x, base[f"{au}_pred"], color=BASELINE_COLOUR, lw=1.0, ls="--", alpha=0.9, label="Baseline")
        ax.plot(x, pred_df[f"{au}_pred"].astype(float), color=G2RL_COLOUR, lw=1.0, alpha=0.8, label=method)
        ax.set_ylabel(f"{au} intensity")
        ax.set_ylim(-0.2, 5.2)
        ax.set_yticks(range(6))
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(xlabel)
    where = ", ".join(p for p in (f"test fold {fold}" if fold is not None else "",
                                  f"seed {seed}" if seed is not None else "") if p)
    who = f"Subject {subjects[0]}" + (f", {session_word} {sessions[0]}" if len(sessions) == 1 else "")
    fig.suptitle(who + (f" ({where})" if where else "") + ": predicted vs ground-truth intensity", fontsize=11)
    # one legend for all panels, below them (the top holds the title and any DEMO label): intensity
    # curves fill the whole height of each panel
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False)
    if demo:
        stamp_demo(fig)
    paths = save_png_and_pdf(fig, out_png)
    plt.close(fig)
    return paths


def _aligned_baseline(pred_df: pd.DataFrame, baseline: pd.DataFrame, aus: Sequence[str]) -> pd.DataFrame:
    """The Baseline's ``<AU>_pred`` columns on pred_df's rows, in its order (matched by subject,
    session, frame; NaN where the Baseline has no prediction). Raises when it shares no frame."""
    keys = [k for k in ("subject", "session", "frame") if k in pred_df.columns and k in baseline.columns]
    cols = [f"{a}_pred" for a in aus]
    missing = [c for c in cols if c not in baseline.columns]
    if missing:
        raise G2RLError(f"intensity curves: Baseline predictions lack column(s) {missing}")
    norm = {"subject": str, "session": str}
    left = pred_df[keys].astype({k: t for k, t in norm.items() if k in keys})
    right = baseline[keys + cols].astype({k: t for k, t in norm.items() if k in keys})
    out = left.merge(right.drop_duplicates(keys), on=keys, how="left")[cols].astype(float)
    if out.isna().all().all():
        raise G2RLError("intensity curves: the Baseline's predictions share no frame with G2RL's")
    return out.reset_index(drop=True)
