"""How much landmark geometry a trained backbone's features encode: a ridge probe, per ablation row.

G2RL's claim is that the guidance puts facial geometry into the backbone's features. This measures it
on the test frames the metrics were computed on, without the geometry branch (the inference
checkpoint has only the backbone): the ResNet trunk's output, average-pooled over space, (N, C), is
regressed on the aligned 68 landmarks, (N, 136) in crop pixels, by ridge regression on standardised
features. Both are first centred on each subject's own mean (:func:`centre_by_subject`): the probe
scores how the features follow the landmarks' movement within a face (expressions, what AU
intensity is about), not face identity, which with the demo's two or three test subjects would be
all a regression could learn. It is cross-validated leave-one-test-subject-out (a subject's frames
never train its own prediction). The score is R^2 of the held-out predictions, 1 - SSE / SST (SST:
the landmarks' spread around each subject's mean face; 1 = every movement recovered, 0 = no better
than the still mean face, < 0 = worse).

Uncertainty as g2rl.evidence's: one set of subject resamples (``BootstrapSettings``) shared by every
row; per resample a row's R^2 is the mean over its seeds; the CI is the 2.5-97.5 % range, and a
variant's difference to the Baseline is taken per resample (paired). Cheap: one forward pass per
run over its test frames, on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.evidence import BootstrapSettings

# ridge penalty on standardised features, relative to the number of training frames: strong enough
# that 256-2048 features on a few hundred frames do not interpolate, the same for every row
RIDGE_ALPHA_PER_FRAME = 1.0


def pooled_features(model_path: str | Path, crops_h5: str | Path, frames: pd.DataFrame, batch: int = 64) -> np.ndarray:
    """The trunk's output of a checkpoint, average-pooled: (N, C) float64 for ``frames``' rows
    (subject, session, frame) of the crops cache."""
    import torch

    from g2rl.reports.examples import cache_rows, model_input
    from g2rl.training.checkpoint import load_inference_model

    net, meta = load_inference_model(model_path, "cpu")
    images = cache_rows(crops_h5, frames, "images")
    x = model_input(images, meta, f"{model_path}: trained on {meta['crop_size']} px crops, {crops_h5} holds")
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(net.trunk(torch.from_numpy(x[i:i + batch])).float().mean(dim=(2, 3)).numpy())
    return np.concatenate(out).astype(np.float64)


def centre_by_subject(values: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """``values`` (N, D) minus the mean of each row's subject (per column)."""
    out = np.asarray(values, dtype=np.float64).copy()
    for name in np.unique(subjects):
        rows = subjects == name
        out[rows] -= out[rows].mean(0)
    return out


def held_out_errors(features: np.ndarray, targets: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Per frame, the squared error of its landmarks predicted by a ridge fit on the other subjects'
    frames: (N,) summed over the 136 coordinates. features (N, C), targets (N, T), subjects (N,)."""
    names = np.unique(subjects)
    if len(names) < 2:
        raise G2RLError(f"geometry probe: needs test frames of 2 or more subjects, got {len(names)}")
    err = np.empty(len(features))
    for name in names:
        test = subjects == name
        xs, ys = features[~test], targets[~test]
        mu, sd = xs.mean(0), xs.std(0) + 1e-8  # standardise on the training frames only
        xs = (xs - mu) / sd
        ym = ys.mean(0)
        alpha = RIDGE_ALPHA_PER_FRAME * len(xs)
        # dual form (frames < features on the demo): w = X^T (X X^T + alpha I)^-1 (Y - mean)
        coef = xs.T @ np.linalg.solve(xs @ xs.T + alpha * np.eye(len(xs)), ys - ym)
        pred = ((features[test] - mu) / sd) @ coef + ym
        err[test] = ((pred - targets[test]) ** 2).sum(1)
    return err


def _resamples(subjects: np.ndarray, settings: BootstrapSettings) -> tuple[np.ndarray, np.ndarray]:
    """(names, (B, S) subject indices drawn with replacement), the same for every row."""
    names = np.unique(subjects)
    rng = np.random.default_rng(settings.seed)
    return names, rng.integers(0, len(names), (settings.n_resamples, len(names)))


def probe_scores(rows: dict[str, list[np.ndarray]], targets: np.ndarray, subjects: np.ndarray,
                 settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """R^2 of every row and its difference to the first (the Baseline), with 95 % subject-bootstrap CIs.

    rows: name -> per seed, the held-out squared errors (N,) of :func:`held_out_errors`, all over the
    same frames; targets (N, T) (as the probe fitted them: centred by subject) and subjects (N,). Returns one row per name with
    probe_r2, probe_r2_lo, probe_r2_hi, probe_diff, probe_diff_lo, probe_diff_hi (NaN for the Baseline).
    """
    sst_frame = ((targets - targets.mean(0)) ** 2).sum(1)
    names, draws = _resamples(subjects, settings)
    member = (subjects[None, :] == names[:, None]).astype(np.float64)  # (S, N)
    counts = np.stack([np.bincount(d, minlength=len(names)) for d in draws]).astype(np.float64)  # (B, S)
    weights = counts @ member  # (B, N): how often each frame is in each resample

    def r2(errors: list[np.ndarray]) -> tuple[float, np.ndarray]:
        full = float(np.mean([1 - e.sum() / sst_frame.sum() for e in errors]))
        boot = np.mean([1 - (weights @ e) / (weights @ sst_frame) for e in errors], axis=0)
        return full, boot

    lo_q, hi_q = 50 * (1 - settings.level), 50 * (1 + settings.level)
    base_name = next(iter(rows))
    base_full, base_boot = r2(rows[base_name])
    out = []
    for name, errors in rows.items():
        full, boot = r2(errors)
        row = {"method": name, "probe_r2": full, "probe_r2_lo": float(np.percentile(boot, lo_q)),
               "probe_r2_hi": float(np.percentile(boot, hi_q))}
        if name == base_name:
            row.update(probe_diff=np.nan, probe_diff_lo=np.nan, probe_diff_hi=np.nan)
        else:
            d = boot - base_boot
            row.update(probe_diff=full - base_full, probe_diff_lo=float(np.percentile(d, lo_q)),
                       probe_diff_hi=float(np.percentile(d, hi_q)))
        out.append(row)
    return pd.DataFrame(out)


def ablation_probe(rows: Sequence[dict], crops_h5: str | Path, settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """:func:`probe_scores` of ablation rows (g2rl.reports.ablation's JSON rows): each run's model.pt
    beside its predictions.csv, on the frames of those predictions (pooled over the run's folds)."""
    from g2rl.reports.ablation import row_runs
    from g2rl.reports.evaluate import read_predictions

    errors, keys = {}, None
    for spec in rows:
        errors[spec["name"]] = []
        for run in row_runs(spec):
            parts = []
            for pred in run["predictions"]:
                frames = read_predictions(pred)[0][["subject", "session", "frame"]]
                parts.append((pooled_features(Path(pred).with_name("model.pt"), crops_h5, frames), frames))
            feats = np.concatenate([p[0] for p in parts])
            frames = pd.concat([p[1] for p in parts], ignore_index=True)
            if keys is None:
                keys = frames
                subjects = frames["subject"].astype(str).to_numpy()
                targets = centre_by_subject(cache_landmarks(crops_h5, frames), subjects)
            elif not frames.astype(str).equals(keys.astype(str)):
                raise G2RLError(f"geometry probe: row {spec['name']!r} was tested on other frames than the first row")
            errors[spec["name"]].append(held_out_errors(centre_by_subject(feats, subjects), targets, subjects))
    return probe_scores(errors, targets, subjects, settings)


def cache_landmarks(crops_h5: str | Path, frames: pd.DataFrame) -> np.ndarray:
    """The aligned landmarks of ``frames``: (N, 136) float64, crop pixels, x and y interleaved."""
    from g2rl.reports.examples import cache_rows

    return cache_rows(crops_h5, frames, "landmarks").reshape(len(frames), -1).astype(np.float64)
