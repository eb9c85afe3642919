"""Test-set predictions: heatmaps -> AU intensities (decoded maxima, clipped to [0, 5]) -> CSV.

Columns (docs/CONTRACTS.md): subject, session, frame, split, then AUxx_pred, AUxx_true per AU.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from g2rl.atomic import atomic_path
from g2rl.training.device import autocast

KEY_COLUMNS = ("subject", "session", "frame", "split")


@torch.no_grad()
def predict_intensities(
    net: torch.nn.Module,
    dataset: Dataset,
    sigma: float,
    device: torch.device,
    batch_size: int = 32,
    num_workers: int = 0,
    bf16: bool = False,
    channels_last: bool = False,
    spec=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``net`` (eval mode) over ``dataset`` in order.

    Returns (rows (N,) int, predicted intensities (N, K) float32 in [0, 5], labels (N, K) float32
    with NaN = unlabelled). ``spec`` (g2rl.preprocess.heatmap_layout.HeatmapSpec) says how the maps
    decode (layout, peak convention); None = one map per AU, Eq. 1's peak: intensity = heatmap
    maximum x 2 pi sigma^2.
    """
    from g2rl.preprocess.heatmap_layout import HeatmapSpec
    from g2rl.preprocess.memory import batch_iterator

    net.eval()
    loader = batch_iterator(dataset, None, batch_size, num_workers)
    rows, preds, trues = [], [], []
    for batch in loader:
        image = batch["image"].to(device, non_blocking=True)
        if channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with autocast(device, bf16):
            maps = net(image)
        if spec is None:  # one map per AU, Eq. 1 peak
            spec = HeatmapSpec(sigma, "eq1", tuple(range(maps.shape[1])), maps.shape[1])
        intensity = spec.decode(maps.float())
        preds.append(torch.as_tensor(intensity).float().clamp(0.0, 5.0).cpu().numpy())
        trues.append(torch.as_tensor(batch["intensity"]).float().numpy())
        rows.append(torch.as_tensor(batch["row"]).numpy())
    if not rows:
        raise ValueError("no test samples to predict")
    return np.concatenate(rows), np.concatenate(preds), np.concatenate(trues)


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
