"""Test-set predictions: heatmaps -> AU intensities (decoded maxima, clipped to [0, 5]) -> CSV.

Columns (docs/CONTRACTS.md): subject, session, frame, split, then AUxx_pred, AUxx_true per AU.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from g2rl.atomic import atomic_path
from g2rl.training.device import autocast

KEY_COLUMNS = ("subject", "session", "frame", "split")


@torch.no_grad()
def predict_intensities(
    net: torch.nn.Module,
    feed,
    sigma: float,
    device: torch.device,
    bf16: bool = False,
    channels_last: bool = False,
    spec=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``net`` (eval mode) over every row of ``feed`` (a g2rl.training.feed.BatchFeed) in order.

    Returns (rows (N,) int, predicted intensities (N, K) float32 in [0, 5], labels (N, K) float32
    with NaN = unlabelled). ``spec`` (g2rl.preprocess.heatmap_layout.HeatmapSpec) says how the maps
    decode (layout, peak convention); None = one map per AU, Eq. 1's peak: intensity = heatmap
    maximum x 2 pi sigma^2. The predictions stay on the device until the last batch (one copy back).
    """
    from g2rl.preprocess.heatmap_layout import HeatmapSpec
    from g2rl.training.feed import to_device

    net.eval()
    rows, preds, trues = [], [], []
    for batch in feed.epoch(None):
        b = to_device({k: v for k, v in batch.items() if k in ("image", "row")}, device, channels_last)
        with autocast(device, bf16):
            maps = net(b["image"])
        if spec is None:  # one map per AU, Eq. 1 peak
            spec = HeatmapSpec(sigma, "eq1", tuple(range(maps.shape[1])), maps.shape[1])
        preds.append(torch.as_tensor(spec.decode(maps.float())).float().clamp(0.0, 5.0))
        trues.append(batch["intensity"].float())
        rows.append(batch["row"])
    if not rows:
        raise ValueError("no test samples to predict")
    return torch.cat(rows).numpy(), torch.cat(preds).cpu().numpy(), torch.cat(trues).numpy()


def predictions_frame(keys: pd.DataFrame, rows: np.ndarray, aus: list[str], pred: np.ndarray, true: np.ndarray) -> pd.DataFrame:
    """One row per predicted frame: the key columns of cache row ``rows[i]`` + AUxx_pred/AUxx_true."""
    missing = [c for c in KEY_COLUMNS if c not in keys.columns]
    if missing:
        raise ValueError(f"cache keys lack columns {missing}")
    if pred.shape != (len(rows), len(aus)) or true.shape != pred.shape:
        raise ValueError(f"predictions {pred.shape} / labels {true.shape} do not match {len(rows)} rows x {len(aus)} AUs")
    out = keys.iloc[rows][list(KEY_COLUMNS)].reset_index(drop=True)
    for k, au in enumerate(aus):
        out[f"{au}_pred"] = pred[:, k]
        out[f"{au}_true"] = true[:, k]
    return out


def write_predictions(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write predictions.csv atomically (NaN labels as empty cells)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
