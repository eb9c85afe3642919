"""Uncertainty of a result: a two-level bootstrap over training seeds and test subjects, and paired differences.

Pure numpy, vectorised. Two things would change a number if the experiment were run again: the
training randomness (a run's seed: initialisation and batch order) and which people were tested.
Seeds and subjects are *crossed* (every seed's model is scored on every test subject), so one
bootstrap resample draws both, independently: R seeds with replacement out of the R seeds of the
run, and S subjects with replacement out of the S test subjects (the "pigeonhole" bootstrap for
crossed factors, Owen 2007, Ann. Appl. Stat. 1(2):386-411; docs/METRICS.md has a worked example).
The unit within a seed is the *subject*: frames of one subject are strongly correlated (same face,
same session), so resampling frames would pretend there are thousands of independent observations
where there are ~27 people. A subject drawn twice contributes all its frames twice; ICC(3,1) and MAE
are recomputed on the pooled frames of the resample, for every seed, and the resample's value is the
mean over the drawn seeds (a seed drawn twice counts twice). A paired difference (variant - its
reference) is taken seed by seed (seed r of one with seed r of the other) inside each resample.

How it is fast: ICC(3,1) with k = 2 raters is 2 S_pg / (S_pp + S_gg) (centred sums of squares
and cross-products over frames, docs/METRICS.md) and MAE is sum|p - g| / n, so both follow from
seven per-subject sums (n, sum p, sum g, sum p^2, sum g^2, sum p g, sum |p - g|), per AU. A
resample is a vector of subject counts w (S,), and its sums are w @ sums. B = 1000 resamples are
one (B, S) @ (S, K * 7) product.

Shapes: N frames, K AUs, S subjects, R seeds, B resamples. Intensities are on the 0-5 scale,
NaN label = unlabelled (that frame is left out for that AU only, as in g2rl.metrics).

With R = 1 the seed level is a no-op (the interval holds the trained model fixed); with R = 2 each
seed alone is a quarter of the resamples, so an interval excludes 0 only where both seeds' own
differences lie on one side of it: training randomness is barely sampled, and the tables say so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from g2rl.errors import G2RLError

# Same tolerance as g2rl.metrics._ZERO_SS: a sum of squares this small counts as zero.
_ZERO_SS = 1e-12
# Order of the per-subject sums along the last axis.
_N, _SP, _SG, _SPP, _SGG, _SPG, _SABS = range(7)
METRICS = ("icc", "mae")
# Which way is better: ICC higher, MAE lower (for the win share of the paired comparison).
HIGHER_IS_BETTER = {"icc": True, "mae": False}


@dataclass(frozen=True)
class BootstrapSettings:
    """How the bootstrap is drawn. ``n_resamples`` B, ``seed`` of numpy's default_rng,
    ``level`` of the percentile confidence interval (0.95 = 2.5th to 97.5th percentile)."""

    n_resamples: int = 1000
    seed: int = 0
    level: float = 0.95

    def validate(self) -> "BootstrapSettings":
        if int(self.n_resamples) < 1:
            raise G2RLError(f"bootstrap: n_resamples must be >= 1, got {self.n_resamples}")
        if not 0.0 < float(self.level) < 1.0:
            raise G2RLError(f"bootstrap: level must be in (0, 1), got {self.level}")
        return self

    def to_dict(self) -> dict:
        """The settings as result files record them (``unit``: what one resample draws)."""
        return {"unit": "seed and subject", "n_resamples": int(self.n_resamples), "seed": int(self.seed),
                "level": float(self.level)}


def subject_codes(subjects: Sequence, names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Map per-frame subject ids (N,) to integer codes (N,) into ``names`` (sorted unique ids
    when not given). A frame whose subject is not in ``names`` is an error."""
    uniq, inverse = np.unique(np.asarray(subjects).astype(str), return_inverse=True)
    names = uniq.tolist() if names is None else [str(n) for n in names]
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(uniq.tolist()) - set(lookup))
    if unknown:
        raise G2RLError(f"bootstrap: frames of subject(s) {unknown} that are not among {names}")
    return np.asarray([lookup[u] for u in uniq.tolist()], dtype=np.int64)[inverse.ravel()], names


def subject_sums(pred: np.ndarray, true: np.ndarray, codes: np.ndarray, n_subjects: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject sufficient statistics of one run.

    pred, true: (N, K) intensities (true NaN = unlabelled; pred must be finite where labelled);
    codes: (N,) subject index in [0, n_subjects). Returns (sums (S, K, 7), centre (K, 2)): the
    seven sums of each subject and AU over its labelled frames, computed on values minus the
    run's per-AU means ``centre`` (pred, true), which keeps the later subtraction
    S_pp = sum p^2 - (sum p)^2 / n free of cancellation; ICC does not change under such a shift
    and the |p - g| sum is taken on the raw values.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    if pred.ndim != 2 or pred.shape != true.shape or codes.shape != (pred.shape[0],):
        raise G2RLError(f"bootstrap: pred {pred.shape}, true {true.shape} and subjects {codes.shape} do not match")
    lab = ~np.isnan(true)
    if np.isnan(pred[lab]).any():
        raise G2RLError("bootstrap: NaN prediction(s) on labelled frames")
    n_lab = lab.sum(axis=0)
    centre = np.zeros((pred.shape[1], 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        centre[:, 0] = np.where(n_lab > 0, np.where(lab, pred, 0.0).sum(axis=0) / np.maximum(n_lab, 1), 0.0)
        centre[:, 1] = np.where(n_lab > 0, np.where(lab, true, 0.0).sum(axis=0) / np.maximum(n_lab, 1), 0.0)
    p = np.where(lab, pred - centre[:, 0], 0.0)
    g = np.where(lab, true - centre[:, 1], 0.0)
    absdiff = np.where(lab, np.abs(pred - true), 0.0)
    # frames grouped by subject, then one reduceat per sum (np.add.at is ~50x slower on 100k frames)
    order = np.argsort(codes, kind="stable")
    present, starts = np.unique(codes[order], return_index=True)
    sums = np.zeros((n_subjects, pred.shape[1], 7))
    for j, x in enumerate((lab.astype(np.float64), p, g, p * p, g * g, p * g, absdiff)):
        sums[present, :, j] = np.add.reduceat(x[order], starts, axis=0)
    return sums, centre


def distinct_resamples(n_subjects: int) -> int:
    """How many different subject resamples exist: multisets of size S drawn from S subjects, C(2S-1, S).

    3 subjects give 10 (so B = 1000 resamples repeat those 10 about 100 times each), 4 give 35, 5 give
    126, 6 give 462: with few subjects a percentile CI is made of a handful of distinct values."""
    s = int(n_subjects)
    return math.comb(2 * s - 1, s) if s > 0 else 0


def resample_counts(n_subjects: int, settings: BootstrapSettings) -> np.ndarray:
    """(B, S) float counts: how often resample b drew subject s (each row sums to S).

    Seeded by ``settings.seed``: the same seed gives the same resamples, so two methods (and
    the seeds of each) evaluated with one call see the same subjects in resample b.
    """
    b, s = int(settings.n_resamples), int(n_subjects)
    if s < 1:
        raise G2RLError("bootstrap: no test subjects")
    rng = np.random.default_rng(settings.seed)
    draws = rng.integers(0, s, size=(b, s))
    flat = (draws + s * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * s).reshape(b, s).astype(np.float64)


def resample_seed_counts(n_seeds: int, settings: BootstrapSettings) -> np.ndarray:
    """(B, R) float counts: how often resample b drew seed r (each row sums to R); the seed level of
    the two-level bootstrap. Drawn from its own stream (``settings.seed`` and 1), independent of the
    subject draws of :func:`resample_counts`; one seed gives a column of ones."""
    b, r = int(settings.n_resamples), int(n_seeds)
    if r < 1:
        raise G2RLError("bootstrap: no seeds")
    rng = np.random.default_rng([int(settings.seed), 1])
    draws = rng.integers(0, r, size=(b, r))
    flat = (draws + r * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * r).reshape(b, r).astype(np.float64)


def seed_weighted_mean(values: np.ndarray, seed_counts: np.ndarray) -> np.ndarray:
    """Resample values (R, B, ...) -> (B, ...): in resample b, the mean over seeds weighted by how often
    b drew each seed (``seed_counts`` (B, R)); a seed whose value is NaN there is left out (NaN when
    every drawn seed is)."""
    values = np.asarray(values, dtype=np.float64)
    w = np.asarray(seed_counts, dtype=np.float64).T.reshape(values.shape[:2] + (1,) * (values.ndim - 2))
    w = np.where(np.isnan(values), 0.0, w)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w * np.nan_to_num(values)).sum(axis=0) / total, np.nan)


def metrics_from_sums(sums: np.ndarray, centre: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """ICC(3,1) and MAE of weighted subject sets.

    sums (S, K, 7) and centre (K, 2) from :func:`subject_sums`; weights (B, S) subject counts
    (a row of ones = the original test set). Returns {'icc': (B, K), 'mae': (B, K)}, NaN where
    undefined exactly as g2rl.metrics: MAE with no labelled frame, ICC with n < 2 or prediction
    and label both constant.
    """
    s, k, _ = sums.shape
    tot = (np.asarray(weights, dtype=np.float64) @ sums.reshape(s, k * 7)).reshape(-1, k, 7)  # (B, K, 7)
    n = tot[..., _N]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p, mean_g = tot[..., _SP] / n, tot[..., _SG] / n
        ss_p = np.maximum(tot[..., _SPP] - tot[..., _SP] * mean_p, 0.0)
        ss_g = np.maximum(tot[..., _SGG] - tot[..., _SG] * mean_g, 0.0)
        s_pg = tot[..., _SPG] - tot[..., _SP] * mean_g
        # raw (uncentred) sums of squares, for the relative "constant series" test of g2rl.metrics
        raw_pp = tot[..., _SPP] + 2 * centre[:, 0] * tot[..., _SP] + centre[:, 0] ** 2 * n
        raw_gg = tot[..., _SGG] + 2 * centre[:, 1] * tot[..., _SG] + centre[:, 1] ** 2 * n
        const_p = ss_p <= _ZERO_SS * np.maximum(1.0, raw_pp)
        const_g = ss_g <= _ZERO_SS * np.maximum(1.0, raw_gg)
        icc = np.where((n >= 2) & ~(const_p & const_g), 2.0 * s_pg / (ss_p + ss_g), np.nan)
        # only one series constant: ICC(3,1) is exactly 0 (g2rl.metrics); avoid rounding noise
        icc = np.where((n >= 2) & (const_p ^ const_g), 0.0, icc)
        mae = np.where(n >= 1, tot[..., _SABS] / n, np.nan)
    return {"icc": icc, "mae": mae}


def with_average(values: np.ndarray) -> np.ndarray:
    """(..., K) -> (..., K + 1): append the mean over AUs of the defined (non-NaN) values, as the
    'Avg' row of g2rl.metrics.per_au_metrics (NaN when no AU is defined)."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(count > 0, np.where(defined, values, 0.0).sum(axis=-1, keepdims=True) / count, np.nan)
    return np.concatenate([values, avg], axis=-1)


def percentile_interval(dist: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 of (B, ...), ignoring NaN resamples (all NaN -> NaN)."""
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():  # an all-NaN column is reported as NaN on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(dist, alpha, axis=0)
        hi = np.nanquantile(dist, 1.0 - alpha, axis=0)
    return lo, hi


@dataclass
class Summary:
    """One method's result with its uncertainty, per AU and 'Avg' (last column, K + 1 columns).

    per_seed (R, K+1): the metric of each seed on the full test set. mean, sd (K+1,): over
    seeds (sd with ddof = 1; NaN with one seed). lo, hi (K+1,): the two-level bootstrap percentile
    CI of the seed mean (seeds and subjects resampled). undefined (K+1,): resamples where the metric
    was NaN (left out of the CI).
    """

    per_seed: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    undefined: np.ndarray


@dataclass
class Difference:
    """A method minus its reference (e.g. G2RL - Baseline), paired by seed, per AU and 'Avg' (K + 1,).

    diff: seed mean of the per-seed differences on the full test set; per_seed (R, K+1): each seed's
    own difference on the full test set; lo, hi: the two-level bootstrap percentile CI of the seed
    mean (both methods on the same seed and subject resample); win_share: share of resamples where
    the method is better (ties count one half); excludes_zero: the CI lies entirely on one side of 0;
    seeds_agree: every seed's own difference is non-zero and of the diff's sign (always true with one
    seed, which says nothing about training randomness).
    """

    diff: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    win_share: np.ndarray
    excludes_zero: np.ndarray
    per_seed: np.ndarray
    seeds_agree: np.ndarray


def seed_mean_sd(per_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd (ddof = 1) over axis 0 of (R, ...), each over the seeds where the value
    is defined; sd is NaN with fewer than two defined seeds."""
    per_seed = np.asarray(per_seed, dtype=np.float64)
    defined = ~np.isnan(per_seed)
    r = defined.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(r > 0, np.where(defined, per_seed, 0.0).sum(axis=0) / r, np.nan)
        dev = np.where(defined, per_seed - mean, 0.0)
        sd = np.where(r > 1, np.sqrt((dev**2).sum(axis=0) / (r - 1)), np.nan)
    return mean, sd


def _seed_mean(x: np.ndarray) -> np.ndarray:
    return seed_mean_sd(x)[0]


def seeds_agree(per_seed: np.ndarray) -> np.ndarray:
    """(R, ...) per-seed differences -> (...) bool: every defined seed's difference is non-zero and all
    have one sign (False where none is defined)."""
    per_seed = np.asarray(per_seed, dtype=np.float64)
    defined = ~np.isnan(per_seed)
    pos = ((per_seed > 0) | ~defined).all(axis=0)
    neg = ((per_seed < 0) | ~defined).all(axis=0)
    return defined.any(axis=0) & (pos | neg)


def bootstrap_seeds(runs: Sequence[tuple[np.ndarray, np.ndarray]], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every seed's metric on every subject resample: {'icc'|'mae': (R, B, K + 1)}; runs are
    (sums, centre) pairs from :func:`subject_sums`, weights (B, S)."""
    out = {m: [] for m in METRICS}
    for sums, centre in runs:
        vals = metrics_from_sums(sums, centre, weights)
        for m in METRICS:
            out[m].append(with_average(vals[m]))
    return {m: np.stack(v) for m, v in out.items()}


def summarize(per_seed: np.ndarray, dist: np.ndarray, seed_counts: np.ndarray, level: float) -> Summary:
    """per_seed (R, K+1) full-set values; dist (R, B, K+1) subject-resample values; seed_counts (B, R)
    -> :class:`Summary` (the CI is of the seed mean, seeds resampled with the subjects)."""
    mean, sd = seed_mean_sd(per_seed)
    seed_avg = seed_weighted_mean(dist, seed_counts)  # (B, K+1)
    lo, hi = percentile_interval(seed_avg, level)
    return Summary(per_seed, mean, sd, lo, hi, np.isnan(seed_avg).sum(axis=0))


def paired_difference(base: np.ndarray, other: np.ndarray, base_point: np.ndarray, other_point: np.ndarray,
                      metric: str, level: float, seed_counts: np.ndarray | None = None) -> Difference:
    """``other`` - ``base``. base, other: (R, B, K+1) subject-resample values of the same R seeds in the
    same order (seed r of one paired with seed r of the other) on the same resamples; *_point (R, K+1)
    the full-set values; seed_counts (B, R) the seed draws (None: every seed once, the subject level
    alone)."""
    if base.shape != other.shape:
        raise G2RLError(f"paired comparison: resamples of shape {base.shape} and {other.shape} do not match")
    if seed_counts is None:
        seed_counts = np.ones((base.shape[1], base.shape[0]))
    dist = seed_weighted_mean(other - base, seed_counts)  # (B, K+1)
    lo, hi = percentile_interval(dist, level)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    defined = ~np.isnan(dist)
    n_def = defined.sum(axis=0)
    wins = np.where(defined, (sign * dist > 0) + 0.5 * (dist == 0), 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        win_share = np.where(n_def > 0, wins / n_def, np.nan)
    per_seed = np.asarray(other_point, dtype=np.float64) - np.asarray(base_point, dtype=np.float64)
    return Difference(_seed_mean(per_seed), lo, hi, win_share, (lo > 0) | (hi < 0), per_seed, seeds_agree(per_seed))


@dataclass
class Comparison:
    """Everything about one dataset: per method and metric a :class:`Summary`; per compared method and
    metric the :class:`Difference` to its reference (``against``: method -> reference); the subjects."""

    aus: list[str]
    subjects: list[str]
    seeds: list
    summaries: dict[str, dict[str, Summary]]
    differences: dict[str, dict[str, Difference]]
    settings: BootstrapSettings
    against: dict[str, str]


@dataclass
class RunArrays:
    """One seed's test predictions: subjects (N,) ids, pred and true (N, K), ``source`` for messages."""

    subjects: np.ndarray
    pred: np.ndarray
    true: np.ndarray
    source: str = "run"


def default_against(names: Sequence[str], reference: str = "Baseline") -> dict[str, str]:
    """Every method but ``reference`` compared with it (none when it is absent)."""
    return {n: reference for n in names if n != reference} if reference in names else {}


def compare_methods(methods: dict[str, Sequence[RunArrays]], seeds: Sequence, aus: Sequence[str],
                    settings: BootstrapSettings = BootstrapSettings(),
                    against: dict[str, str] | None = None) -> Comparison:
    """Bootstrap every method's runs on one shared set of seed and subject resamples.

    ``methods`` maps a name ('Baseline', 'G2RL', ...) to its runs, one per seed, in the order of
    ``seeds`` (so seed r of one method is paired with seed r of another). Every run must cover the
    same test subjects. ``against`` maps a method to the method it is compared with (paired,
    method - reference); default: every method against 'Baseline' when there is one.
    """
    settings.validate()
    against = default_against(list(methods)) if against is None else dict(against)
    for name, ref in against.items():
        if name not in methods or ref not in methods:
            raise G2RLError(f"paired comparison {name} vs {ref}: both need runs (have {sorted(methods)})")
    first = next(iter(methods.values()))[0]
    names = sorted(set(np.asarray(first.subjects).astype(str).tolist()))
    for name, runs in methods.items():
        if len(runs) != len(seeds):
            raise G2RLError(f"{name}: {len(runs)} run(s) for {len(seeds)} seed(s) {list(seeds)}")
        for run in runs:
            have = sorted(set(np.asarray(run.subjects).astype(str).tolist()))
            if have != names:
                raise G2RLError(f"{run.source}: test subjects {have} differ from {first.source}'s {names}; "
                                "runs compared on a bootstrap must share their test subjects")
    weights = resample_counts(len(names), settings)
    seed_counts = resample_seed_counts(len(seeds), settings)
    ones = np.ones((1, len(names)))
    summaries, dists, points = {}, {}, {}
    for name, runs in methods.items():
        stats = []
        for run in runs:
            codes, _ = subject_codes(run.subjects, names)
            stats.append(subject_sums(run.pred, run.true, codes, len(names)))
        dists[name] = bootstrap_seeds(stats, weights)
        points[name] = {m: v[:, 0, :] for m, v in bootstrap_seeds(stats, ones).items()}
        summaries[name] = {m: summarize(points[name][m], dists[name][m], seed_counts, settings.level) for m in METRICS}
    differences = {
        name: {m: paired_difference(dists[ref][m], dists[name][m], points[ref][m], points[name][m], m, settings.level,
                                    seed_counts)
               for m in METRICS}
        for name, ref in against.items()
    }
    return Comparison(list(aus), names, list(seeds), summaries, differences, settings, against)
