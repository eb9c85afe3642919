"""How much facial geometry a network's features encode: a validated ridge probe on M, with two references.

**What is read.** G2RL's guidance L_G = ||G - W M||^2 (Eq. 6) acts on M, the deconvolution head's last
feature maps (C x S/4 x S/4, before the 1x1 conv to the heatmaps), through W after M is average-pooled to a
4 x 4 grid (``projection_pool``). The probe reads the same thing from the inference checkpoint: M pooled to
:data:`GRID` x :data:`GRID` cells, C * 16 features per frame, so the spatial layout survives at the resolution
the guidance sees. It regresses the aligned 68 landmarks, (N, 136) crop pixels, on them, *not* centred per
subject: the differences between people's face shapes are what the paper's geometry is about, so they stay in
the target.

**How it is fitted.** Within each fold's own network (DISFA: one network per fold): a ridge regression is
fitted on that network's *training* frames (cache rows whose split is not the checkpoint's test split; at most
``frames_per_subject`` evenly spaced frames per subject), its penalty chosen by cross-validation over the
training subjects only (leave one subject out, or 5 groups of subjects when there are more than 5), then it
predicts the fold's test frames (at most as many per subject, the same frames for every row). The score is
R^2 = 1 - SSE / SST over the pooled test frames of every fold (SST around their mean: 0 = no better than the
mean face, 1 = every landmark recovered, < 0 = worse than the mean face).

**References**, scored by the same probe on the same frames: a *randomly initialised network of the same
architecture* (one per run seed: what the architecture gives untrained), and the frames' *AU intensity labels
alone* (how much of the landmarks' variance is AU intensity again, which any good intensity model must carry).
A trained row is evidence of learnt geometry only as far as it beats the first, and of geometry beyond the
intensities only as far as it beats the second.

**Validated** by tests/test_geometry_probe.py: a network of the same architecture trained to regress the
landmarks on a tiny crops cache scores far above its random-init reference; features that only name the
subject, or noise, score near or below 0.

**Uncertainty** as g2rl.evidence's: the two-level bootstrap (seeds and test subjects resampled, the same
settings, so the same resamples, as the metrics' CIs), on per-subject sums so a resample's R^2 is exact;
a row's difference to its reference is paired by seed. Cost: one forward pass per network over its probe
frames (train and test), on the CPU by default.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.evidence import (BootstrapSettings, percentile_interval, resample_counts, resample_seed_counts,
                           seed_weighted_mean, seeds_agree)

GRID = 4  # M pooled to GRID x GRID cells, as W sees it under the default projection_pool
FRAMES_PER_SUBJECT = 32  # default cap on probe frames per subject (train and test), evenly spaced
# Ridge penalties, relative to the mean eigenvalue of the standardised training features' Gram matrix (so the
# grid means the same for 1,024 or 4,096 features); the cross-validation picks one per network and fold.
PENALTY_GRID = np.logspace(-4, 2, 13)
MAX_INNER_FOLDS = 5
REFERENCE_ROWS = ("random init (same architecture)", "AU labels alone")


# --- frames and features -----------------------------------------------------------------------------------


def spread_frames(frames: pd.DataFrame, per_subject: int) -> pd.DataFrame:
    """At most ``per_subject`` rows of each subject, evenly spaced over its rows sorted by (session, frame);
    subjects in sorted order. Deterministic, so every row of an ablation reads the same frames."""
    if per_subject < 2:
        raise G2RLError(f"geometry probe: frames per subject must be >= 2, got {per_subject}")
    parts = []
    keyed = frames.astype({"subject": str, "session": str})
    for _, rows in keyed.sort_values(["subject", "session", "frame"]).groupby("subject", sort=True):
        take = np.unique(np.linspace(0, len(rows) - 1, min(per_subject, len(rows))).round().astype(int))
        parts.append(rows.iloc[take])
    return pd.concat(parts, ignore_index=True)[["subject", "session", "frame"]]


def m_features(net, images: np.ndarray, meta: dict, device: str = "cpu", batch: int = 64) -> np.ndarray:
    """M of ``net`` (a HeatmapNet) on crops (N, S, S, 3) uint8, average-pooled to GRID x GRID: (N, C * GRID^2)
    float64, normalised as the checkpoint's ``meta`` says."""
    import torch

    from g2rl.reports.examples import model_input

    x = model_input(images, meta, f"geometry probe: the network was trained on {meta['crop_size']} px crops, the cache holds")
    out = []
    net = net.to(device).eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            _, m = net(torch.from_numpy(x[i:i + batch]).to(device), return_features=True)
            out.append(torch.nn.functional.adaptive_avg_pool2d(m.float(), GRID).flatten(1).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def cache_landmarks(crops_h5: str | Path, frames: pd.DataFrame) -> np.ndarray:
    """The aligned landmarks of ``frames``: (N, 136) float64, crop pixels, x and y interleaved."""
    from g2rl.reports.examples import cache_rows

    return cache_rows(crops_h5, frames, "landmarks").reshape(len(frames), -1).astype(np.float64)


# --- the ridge probe -----------------------------------------------------------------------------------------


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Centre on the training frames' mean and divide by ONE scale, their overall RMS. Not per feature: a unit
    that is almost silent on the training frames (ReLU features often are) would be divided by its tiny sd and
    turn into a huge value on a test face where it fires, and the predictions would explode (R² of -30 on the
    demo at first)."""
    mu = train.mean(0)
    scale = float(np.sqrt(((train - mu) ** 2).mean()))
    scale = scale if scale > 1e-12 else 1.0
    return [(a - mu) / scale for a in (train, *others)]


def ridge_predictions(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      penalties: Sequence[float]) -> np.ndarray:
    """Ridge predictions of ``x_test`` (N', D) for each relative penalty: (P, N', T).

    Features centred and scaled on the training frames (:func:`_standardise`), targets centred on their
    training mean; one SVD
    X = U diag(s) V^T of the training features gives every penalty's weights V diag(s / (s^2 + a)) U^T y,
    with a = penalty x the mean eigenvalue of X^T X over its rank."""
    xt, xs = _standardise(x_train, x_test)
    ym = y_train.mean(0)
    u, s, vt = np.linalg.svd(xt, full_matrices=False)
    scale = float((s ** 2).sum() / max(1, int((s > 1e-10 * s.max()).sum()))) if s.size and s.max() > 0 else 1.0
    uy = u.T @ (y_train - ym)  # (r, T)
    proj = xs @ vt.T  # (N', r)
    return np.stack([proj @ ((s / (s ** 2 + p * scale))[:, None] * uy) + ym for p in penalties])


def inner_folds(groups: np.ndarray) -> list[np.ndarray]:
    """Boolean held-out masks of the inner cross-validation: one per subject with up to MAX_INNER_FOLDS
    subjects, else MAX_INNER_FOLDS groups of subjects (sorted names dealt round-robin)."""
    names = np.unique(groups)
    if len(names) < 2:
        raise G2RLError(f"geometry probe: choosing the penalty needs 2 or more training subjects, got {len(names)}")
    k = min(len(names), MAX_INNER_FOLDS)
    fold_of = {n: i % k for i, n in enumerate(names)}
    ids = np.array([fold_of[g] for g in groups])
    return [ids == i for i in range(k)]


def choose_penalty(x: np.ndarray, y: np.ndarray, groups: np.ndarray, penalties: Sequence[float] = PENALTY_GRID) -> float:
    """The relative penalty with the least held-out squared error over :func:`inner_folds` of the training
    subjects ``groups`` (N,): the test subjects never choose it."""
    sse = np.zeros(len(penalties))
    for held in inner_folds(groups):
        pred = ridge_predictions(x[~held], y[~held], x[held], penalties)
        sse += ((pred - y[held][None]) ** 2).sum(axis=(1, 2))
    return float(penalties[int(np.argmin(sse))])


def fit_and_score(x_train: np.ndarray, y_train: np.ndarray, groups: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray) -> tuple[np.ndarray, float]:
    """(squared error of each test frame summed over the T targets (N',), the chosen relative penalty)."""
    penalty = choose_penalty(x_train, y_train, groups)
    pred = ridge_predictions(x_train, y_train, x_test, [penalty])[0]
    return ((pred - y_test) ** 2).sum(1), penalty


# --- scores and their uncertainty ----------------------------------------------------------------------------


@dataclass
class ProbeTargets:
    """The pooled test frames every row is scored on: targets (N, T) and subjects (N,)."""

    targets: np.ndarray
    subjects: np.ndarray

    def subject_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """(codes (N,), n (S,), sum y (S, T), sum ||y||^2 (S,), names): what SST of a subject resample needs."""
        names, codes = np.unique(self.subjects.astype(str), return_inverse=True)
        s = len(names)
        n = np.bincount(codes, minlength=s).astype(np.float64)
        sy = np.zeros((s, self.targets.shape[1]))
        np.add.at(sy, codes, self.targets)
        syy = np.bincount(codes, weights=(self.targets ** 2).sum(1), minlength=s)
        return codes, n, sy, syy, names.tolist()


def r2_of_resamples(errors: np.ndarray, targets: ProbeTargets, weights: np.ndarray) -> np.ndarray:
    """R^2 of per-frame squared errors (N,) on subject resamples ``weights`` (B, S): (B,). A row of ones is the
    full set. SST is around each resample's own (weighted) mean."""
    codes, n, sy, syy, names = targets.subject_sums()
    sse = np.bincount(codes, weights=errors, minlength=len(names))
    tot_n = weights @ n
    sst = weights @ syy - ((weights @ sy) ** 2).sum(1) / tot_n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 0, 1.0 - (weights @ sse) / sst, np.nan)


def probe_table(rows: Mapping[str, Sequence[np.ndarray]], targets: ProbeTargets,
                settings: BootstrapSettings = BootstrapSettings(), against: Mapping[str, str] | None = None,
                penalties: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """One line per row: R^2 (mean over seeds), its two-level bootstrap CI, and for rows in ``against`` the
    paired difference to their reference (CI, each seed's difference, whether the seeds agree).

    rows: name -> per seed the per-frame squared errors (N,), every row with the same number of seeds, on
    the frames of ``targets``. Columns: method, probe_r2, probe_r2_lo, probe_r2_hi, probe_vs, probe_diff,
    probe_diff_lo, probe_diff_hi, probe_diff_per_seed, probe_seeds_agree, probe_penalty (mean chosen
    relative penalty; NaN when not given)."""
    settings.validate()
    n_seeds = {len(v) for v in rows.values()}
    if len(n_seeds) != 1:
        raise G2RLError(f"geometry probe: rows have different numbers of seeds {sorted(n_seeds)}")
    r = n_seeds.pop()
    names = np.unique(targets.subjects.astype(str))
    weights = resample_counts(len(names), settings)
    seed_counts = resample_seed_counts(r, settings)
    ones = np.ones((1, len(names)))
    full = {k: np.array([r2_of_resamples(e, targets, ones)[0] for e in v]) for k, v in rows.items()}  # (R,)
    boot = {k: np.stack([r2_of_resamples(e, targets, weights) for e in v]) for k, v in rows.items()}  # (R, B)
    against = dict(against or {})
    out = []
    for name in rows:
        lo, hi = percentile_interval(seed_weighted_mean(boot[name], seed_counts), settings.level)
        line = {"method": name, "probe_r2": float(np.mean(full[name])), "probe_r2_lo": float(lo), "probe_r2_hi": float(hi),
                "probe_vs": against.get(name, ""), "probe_diff": np.nan, "probe_diff_lo": np.nan,
                "probe_diff_hi": np.nan, "probe_diff_per_seed": "", "probe_seeds_agree": False,
                "probe_penalty": float(np.mean(penalties[name])) if penalties and name in penalties else np.nan}
        ref = against.get(name)
        if ref:
            if ref not in rows:
                raise G2RLError(f"geometry probe: row {name!r} is compared with {ref!r}, which has no probe scores")
            per_seed = full[name] - full[ref]
            dlo, dhi = percentile_interval(seed_weighted_mean(boot[name] - boot[ref], seed_counts), settings.level)
            line.update(probe_diff=float(per_seed.mean()), probe_diff_lo=float(dlo), probe_diff_hi=float(dhi),
                        probe_diff_per_seed=";".join(f"{v:.6g}" for v in per_seed),
                        probe_seeds_agree=bool(seeds_agree(per_seed[:, None])[0]))
        out.append(line)
    return pd.DataFrame(out)


# --- networks on a crops cache -------------------------------------------------------------------------------


class ProbeFrames:
    """A crops cache's probe frames: each fold's training frames (capped per subject) and the test frames
    (capped per subject, from a fold's predictions), with their images, landmarks and AU labels read once."""

    def __init__(self, crops_h5: str | Path, per_subject: int = FRAMES_PER_SUBJECT):
        from g2rl.preprocess.batches import read_cache_keys

        self.crops_h5, self.per_subject = crops_h5, per_subject
        self.keys = read_cache_keys(crops_h5)
        self._cache: dict = {}

    def train_frames(self, test_split: str) -> pd.DataFrame:
        rows = self.keys[self.keys["split"] != str(test_split)]
        if rows.empty:
            raise G2RLError(f"{self.crops_h5}: no cache row outside test split {test_split!r} to fit the probe on")
        return spread_frames(rows, self.per_subject)

    def test_frames(self, predictions: pd.DataFrame) -> pd.DataFrame:
        return spread_frames(predictions[["subject", "session", "frame"]], self.per_subject)

    def arrays(self, frames: pd.DataFrame, what: str) -> np.ndarray:
        """'images' (N, S, S, 3), 'landmarks' (N, 136) or 'intensities' (N, K) of ``frames`` (memoised)."""
        from g2rl.reports.examples import cache_rows

        key = (what, tuple(map(tuple, frames.astype(str).to_numpy())))
        if key not in self._cache:
            if what == "landmarks":
                self._cache[key] = cache_landmarks(self.crops_h5, frames)
            else:
                self._cache[key] = cache_rows(self.crops_h5, frames, what)
        return self._cache[key]


def network_errors(net, meta: dict, frames: ProbeFrames, test: pd.DataFrame, device: str = "cpu") -> tuple[np.ndarray, float]:
    """Per-frame squared errors on ``test`` of the probe fitted on ``net``'s own training frames (the cache rows
    outside ``meta['test_split']``), and the chosen penalty."""
    train = frames.train_frames(meta["test_split"])
    x_train = m_features(net, frames.arrays(train, "images"), meta, device)
    x_test = m_features(net, frames.arrays(test, "images"), meta, device)
    return fit_and_score(x_train, frames.arrays(train, "landmarks"), train["subject"].to_numpy(), x_test,
                         frames.arrays(test, "landmarks"))


def label_errors(frames: ProbeFrames, test_split: str, test: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The AU-labels reference: the same probe on the frames' intensity labels (an unlabelled AU: the training
    frames' mean of it, 0 when it has none)."""
    train = frames.train_frames(test_split)
    x_train, x_test = frames.arrays(train, "intensities").astype(np.float64), frames.arrays(test, "intensities").astype(np.float64)
    with warnings.catch_warnings():  # an AU with no label in the training frames: mean of nothing -> 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nan_to_num(np.nanmean(x_train, axis=0))
    x_train, x_test = np.where(np.isnan(x_train), fill, x_train), np.where(np.isnan(x_test), fill, x_test)
    return fit_and_score(x_train, frames.arrays(train, "landmarks"), train["subject"].to_numpy(), x_test,
                         frames.arrays(test, "landmarks"))


def random_network(meta: dict, seed: int):
    """A HeatmapNet of the checkpoint's architecture, freshly initialised from ``seed`` (as a training starts)."""
    import torch

    from g2rl.training.checkpoint import network_from_meta

    torch.manual_seed(int(seed))
    return network_from_meta(meta).eval()


def ablation_probe(rows: Sequence[dict], crops_h5: str | Path, settings: BootstrapSettings = BootstrapSettings(),
                   per_subject: int = FRAMES_PER_SUBJECT, device: str = "cpu") -> pd.DataFrame:
    """:func:`probe_table` of ablation rows (g2rl.reports.ablation's JSON rows: each run's model.pt beside its
    predictions.csv, one per test fold) plus the two reference rows, on the same probe frames. A row is compared
    with its ``against`` row (the Baseline, or the Baseline on the same heatmaps)."""
    from g2rl.reports.ablation import row_runs
    from g2rl.reports.evaluate import read_predictions
    from g2rl.training.checkpoint import load_inference_model

    frames = ProbeFrames(crops_h5, per_subject)
    errors, penalties, folds, seeds = {}, {}, None, None
    for spec in rows:
        name = spec["name"]
        errors[name], penalties[name] = [], []
        run_folds, run_seeds = [], []
        for run in row_runs(spec):
            parts, pens = [], []
            for pred in run["predictions"]:
                test = frames.test_frames(read_predictions(pred)[0])
                model = Path(pred).with_name("model.pt")
                net, meta = load_inference_model(model, device)
                if not meta.get("test_split"):
                    raise G2RLError(f"{model}: checkpoint meta names no test_split, so the probe cannot tell its "
                                    "training frames from its test frames (retrain with this version)")
                err, pen = network_errors(net, meta, frames, test, device)
                parts.append((meta["test_split"], test, err))
                pens.append(pen)
            errors[name].append(np.concatenate([p[2] for p in parts]))
            penalties[name].append(float(np.mean(pens)))
            run_folds.append([(split, test) for split, test, _ in parts])
            run_seeds.append(str(run["seed"]))
        if folds is None:
            folds, seeds, first_meta = run_folds[0], run_seeds, meta
        for fold_list in run_folds:
            if [s for s, _ in fold_list] != [s for s, _ in folds] or any(
                    not a.equals(b) for (_, a), (_, b) in zip(fold_list, folds)):
                raise G2RLError(f"geometry probe: row {name!r} was tested on other folds or frames than the first row")
    random_name, labels_name = REFERENCE_ROWS
    errors[random_name], penalties[random_name] = [], []
    for seed in seeds:
        net = random_network(first_meta, int(seed) if seed.isdigit() else 0)
        scored = [network_errors(net, {**first_meta, "test_split": split}, frames, test, device) for split, test in folds]
        errors[random_name].append(np.concatenate([e for e, _ in scored]))
        penalties[random_name].append(float(np.mean([p for _, p in scored])))
    scored = [label_errors(frames, split, test) for split, test in folds]
    errors[labels_name] = [np.concatenate([e for e, _ in scored])] * len(seeds)  # no training randomness
    penalties[labels_name] = [float(np.mean([p for _, p in scored]))]
    test_all = pd.concat([t for _, t in folds], ignore_index=True)
    targets = ProbeTargets(frames.arrays(test_all, "landmarks"), test_all["subject"].astype(str).to_numpy())
    against = {spec["name"]: spec.get("against") for spec in rows if spec.get("against")}
    table = probe_table(errors, targets, settings, against, penalties)
    table["probe_reference"] = table["method"].isin(REFERENCE_ROWS)  # the two reference lines, not ablation rows
    table.attrs.update(frames_per_subject=per_subject, n_test_frames=len(test_all),
                       n_test_subjects=len(np.unique(targets.subjects)))
    return table
