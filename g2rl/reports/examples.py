"""Figures 4 and 5 from one trained fold: predicted heatmaps over test faces, intensity curves.

Inputs are the fold's outputs as the workflow writes them: the inference checkpoint
(``model.pt``, :func:`g2rl.training.checkpoint.load_inference_model`), its test predictions
(``predictions.csv``) and the dataset's crops cache (``crops.h5``, whose rows are matched to the
predictions by (subject, session, frame)). The intensities in the titles and curves are the
ones in ``predictions.csv``, i.e. exactly what the metrics were computed from; the model is run
only to draw the heatmaps. Figure 5 draws the Baseline's predictions of the same fold beside
G2RL's when they are given. Both figures are written as PNG and PDF (same name, ``.pdf``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.reports.evaluate import read_predictions
from g2rl.reports.figures import plot_heatmap_examples, plot_intensity_curves

log = logging.getLogger(__name__)

# what one (subject, session) is in each dataset: BP4D records tasks T1-T8, DISFA one video per camera
SESSION_WORDS = {"bp4d": "task", "disfa": "video"}


def pick_heatmap_frames(pred_df: pd.DataFrame, aus: Sequence[str], n: int = 2) -> pd.DataFrame:
    """``n`` test frames worth showing: the most intense (sum of labels over AUs, unlabelled = 0),
    each from a different subject while there are subjects left; ties broken by key order."""
    score = pred_df[[f"{a}_true" for a in aus]].fillna(0.0).sum(axis=1)
    ranked = pred_df.assign(_score=score).sort_values(
        ["_score", "subject", "session", "frame"], ascending=[False, True, True, True], kind="mergesort"
    )
    first_per_subject = ranked.drop_duplicates("subject")
    chosen = pd.concat([first_per_subject, ranked.drop(first_per_subject.index)]).head(n)
    return chosen.drop(columns="_score")


def pick_curve_subject(pred_df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the subject with most predicted frames (first by name on ties), first session,
    ordered by frame."""
    counts = pred_df.groupby("subject").size()
    subject = sorted(counts[counts == counts.max()].index)[0]
    rows = pred_df[pred_df["subject"] == subject]
    session = sorted(rows["session"].unique())[0]
    return rows[rows["session"] == session].sort_values("frame")


def cache_rows(crops_h5, frames: pd.DataFrame, dataset: str) -> np.ndarray:
    """``dataset`` ('images', 'landmarks', ...) of the crops cache at ``frames``' (subject, session,
    frame), in ``frames``' order: e.g. images (N, S, S, 3) uint8, aligned landmarks (N, 68, 2) px.
    Raises naming the first frame the cache lacks."""
    from g2rl.preprocess.h5read import open_h5
    from g2rl.preprocess.batches import read_cache_keys

    keys = read_cache_keys(crops_h5).reset_index().rename(columns={"index": "row"})
    want = frames[["subject", "session", "frame"]].astype({"subject": str, "session": str, "frame": np.int64})
    found = want.merge(keys[["subject", "session", "frame", "row"]], on=["subject", "session", "frame"], how="left")
    if found["row"].isna().any():
        miss = found.loc[found["row"].isna(), ["subject", "session", "frame"]].iloc[0].tolist()
        raise G2RLError(f"{crops_h5}: no cache row for predicted frame (subject, session, frame) = {miss}")
    rows = found["row"].astype(np.int64).to_numpy()
    with open_h5(crops_h5) as f:
        # h5py fancy indexing needs increasing, unique indices
        uniq, inverse = np.unique(rows, return_inverse=True)
        return f[dataset][uniq][inverse]


def model_input(images: np.ndarray, meta: dict, mismatch: str) -> np.ndarray:
    """Crops (N, S, S, 3) uint8 -> the network's input (N, 3, S, S) float32, normalised with the
    checkpoint's mean and std; ``mismatch`` starts the error when S is not the trained crop size."""
    if images.shape[1] != int(meta["crop_size"]):
        raise G2RLError(f"{mismatch} {images.shape[1]} px")
    mean = np.asarray(meta["mean"], np.float32)[None, :, None, None]
    std = np.asarray(meta["std"], np.float32)[None, :, None, None]
    return (images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - mean) / std


def heatmaps_for_frames(model_path, crops_h5, frames: pd.DataFrame, device: str = "cpu") -> tuple[np.ndarray, np.ndarray, dict]:
    """Crops (N, S, S, 3) uint8 and predicted heatmaps (N, K, S/4, S/4) float32 for ``frames``
    (columns subject, session, frame), plus the checkpoint's meta (its AU names, sigma, seed...)."""
    import torch

    from g2rl.training.checkpoint import load_inference_model

    images = cache_rows(crops_h5, frames, "images")
    net, meta = load_inference_model(model_path, device)
    x = model_input(images, meta, f"{model_path}: trained on {meta['crop_size']} px crops, {crops_h5} holds")
    with torch.no_grad():
        maps = net(torch.from_numpy(x).to(device)).float().cpu().numpy()
    from g2rl.preprocess.heatmap_layout import HeatmapSpec

    # per_point checkpoints: one panel per AU, the pixel-wise max of its points' maps
    return images, HeatmapSpec.from_meta(meta).per_au_maps(maps), meta


def run_description(meta: dict) -> str:
    """Which trained model a figure shows, from its checkpoint's meta: e.g. 'G2RL (stopgrad_aux), sigma 2,
    lambda 0.05, seed 0, test fold 1'; parts the meta lacks are left out."""
    method = str(meta.get("method", "model"))
    name = {"g2rl": "G2RL", "baseline": "Baseline"}.get(method, method)
    guidance = (meta.get("model") or {}).get("guidance")
    if method != "baseline" and guidance:
        name += f" ({guidance})"
    parts = [name]
    if meta.get("sigma") is not None:
        parts.append(f"sigma {float(meta['sigma']):g}")
    if meta.get("lambda_g") is not None:
        parts.append(f"lambda {float(meta['lambda_g']):g}")
    for key, word in (("seed", "seed"), ("test_split", "test fold")):
        if meta.get(key) is not None:
            parts.append(f"{word} {meta[key]}")
    return ", ".join(parts)


def make_example_figures(
    model_path: str | os.PathLike,
    predictions_csv: str | os.PathLike,
    crops_h5: str | os.PathLike,
    heatmaps_png: str | os.PathLike,
    curves_png: str | os.PathLike,
    n_samples: int = 2,
    curve_aus: Sequence[str] | None = None,
    method: str = "G2RL",
    demo: bool = False,
    baseline_predictions: str | os.PathLike | None = None,
    dataset: str | None = None,
    heatmaps_page: str | os.PathLike | None = None,
) -> list[Path]:
    """Write the Figure 4 and Figure 5 style PNGs and PDFs for one fold. ``curve_aus`` defaults to
    the first two AUs (DISFA: AU01, AU02, as in the paper's Figure 5). The heatmaps' colour scale is
    intensity 0 to 5 at the checkpoint's sigma; ``demo`` stamps "DEMO DATA" on both figures.
    ``baseline_predictions``: the Baseline's predictions.csv of the same fold, drawn in Figure 5;
    ``dataset`` ('bp4d' | 'disfa') names the session in Figure 5's title (BP4D: task).
    Figure 4's title names the model (:func:`run_description`: method, variant, sigma, lambda, seed, test fold).
    ``heatmaps_page``: also write Figure 4 as an HTML page, the report's view (a tall PNG is cut off at the top
    there), titled the same. Returns [heatmaps png, heatmaps pdf, curves png, curves pdf(, heatmaps page)]."""
    from g2rl.preprocess.heatmaps import peak_value

    pred_df, aus = read_predictions(predictions_csv)
    frames = pick_heatmap_frames(pred_df, aus, n_samples)
    images, maps, meta = heatmaps_for_frames(model_path, crops_h5, frames)
    model_aus = list(meta["aus"])
    if model_aus != list(aus):
        raise G2RLError(f"{model_path}: model AUs {model_aus} differ from {predictions_csv} AUs {aus}")
    pred = frames[[f"{a}_pred" for a in aus]].to_numpy(np.float64)
    true = frames[[f"{a}_true" for a in aus]].to_numpy(np.float64)
    captions = [f"{r.subject}/{r.session} frame {r.frame}" for r in frames.itertuples()]
    title = f"Predicted heatmaps of {run_description(meta)}"
    fig4 = plot_heatmap_examples(images, maps, aus, pred, true, heatmaps_png,
                                 peak_per_intensity=peak_value(1.0, float(meta["sigma"]), meta.get("heatmap_peak", "eq1")), captions=captions, demo=demo,
                                 title=title)
    curve_aus = list(curve_aus) if curve_aus else list(aus[:2])
    subject_rows = pick_curve_subject(pred_df)
    fold = str(pred_df["split"].iloc[0])  # one predictions file is one fold (read_predictions' contract)
    baseline = None
    if baseline_predictions is not None:
        baseline, base_aus = read_predictions(baseline_predictions)
        if list(base_aus) != list(aus):
            raise G2RLError(f"{baseline_predictions}: AUs {base_aus} differ from {predictions_csv} AUs {aus}")
    fig5 = plot_intensity_curves(subject_rows, curve_aus, curves_png, method=method, fold=fold,
                                 seed=meta.get("seed"), demo=demo, baseline=baseline,
                                 session_word=SESSION_WORDS.get(dataset or "", "session"))
    log.info("heatmaps of %s; curves of subject %s (%d frames, %s)",
             ", ".join(f"{r.subject}/{r.session}/{r.frame}" for r in frames.itertuples()),
             subject_rows["subject"].iloc[0], len(subject_rows), ", ".join(curve_aus))
    pages = []
    if heatmaps_page is not None:
        from g2rl.atomic import atomic_path
        from g2rl.reports.html_page import image_page

        with atomic_path(heatmaps_page) as tmp:
            Path(tmp).write_text(image_page(fig4[0], f"Figure 4: {title} over test faces"))
        pages = [Path(heatmaps_page)]
    return [*fig4, *fig5, *pages]
