"""g2rl.evidence: the subject bootstrap, seed aggregation and the paired comparison, on hand-checkable data."""

from __future__ import annotations

import numpy as np
import pytest

from g2rl import metrics
from g2rl.errors import G2RLError
from g2rl.evidence import (
    BootstrapSettings,
    RunArrays,
    compare_methods,
    metrics_from_sums,
    resample_counts,
    seed_mean_sd,
    subject_codes,
    subject_sums,
    with_average,
)


def fake_run(n_subjects=6, frames=20, k=3, seed=0, noise=0.5, shift=0.0, source="run"):
    """Labels shared across calls with the same n_subjects/frames/k (rng seeded 123); the
    prediction adds ``noise`` drawn from ``seed`` and a constant ``shift``."""
    rng = np.random.default_rng(123)
    subjects = np.repeat([f"S{i:02d}" for i in range(n_subjects)], frames)
    # each subject has its own level, so resampling subjects moves the metrics
    true = np.clip(rng.uniform(0, 3, size=(n_subjects, 1, k)) + rng.normal(0, 1, (n_subjects, frames, k)), 0, 5)
    true = true.reshape(-1, k)
    pred = true + np.random.default_rng(seed).normal(0, noise, true.shape) + shift
    return RunArrays(subjects, pred, true, source)


def test_full_set_equals_g2rl_metrics_including_unlabelled_frames():
    run = fake_run()
    run.true[::7, 1] = np.nan  # unlabelled frames drop out of AU 1 only
    codes, names = subject_codes(run.subjects)
    sums, centre = subject_sums(run.pred, run.true, codes, len(names))
    vals = metrics_from_sums(sums, centre, np.ones((1, len(names))))
    for k in range(3):
        assert vals["icc"][0, k] == pytest.approx(metrics.icc(run.pred[:, k], run.true[:, k]), abs=1e-12)
        assert vals["mae"][0, k] == pytest.approx(metrics.mae(run.pred[:, k], run.true[:, k]), abs=1e-12)


def test_a_resample_moves_whole_subjects():
    """Resample b with counts w equals the metrics of the frame set built by repeating each
    subject's frames w_s times: frames of one subject move together."""
    run = fake_run(n_subjects=5, frames=7, k=2)
    codes, names = subject_codes(run.subjects)
    sums, centre = subject_sums(run.pred, run.true, codes, len(names))
    w = resample_counts(len(names), BootstrapSettings(n_resamples=4, seed=3))
    assert (w.sum(axis=1) == len(names)).all()
    vals = metrics_from_sums(sums, centre, w)
    for b in range(4):
        rows = np.concatenate([np.flatnonzero(codes == s) for s in range(len(names)) for _ in range(int(w[b, s]))])
        for k in range(2):
            assert vals["icc"][b, k] == pytest.approx(metrics.icc(run.pred[rows, k], run.true[rows, k]), abs=1e-12)
            assert vals["mae"][b, k] == pytest.approx(metrics.mae(run.pred[rows, k], run.true[rows, k]), abs=1e-12)


def test_hand_computed_two_subjects():
    """Subject A: frames (pred, true) = (1, 0), (2, 2); subject B: (4, 4). Full set: MAE = 1/3;
    ICC = 2 S_pg / (S_pp + S_gg) with p = 1,2,4 (mean 7/3), g = 0,2,4 (mean 2):
    S_pp = 14/3, S_gg = 8, S_pg = 6 -> ICC = 12 / (38/3) = 18/19. Drawing A twice: frames
    (1,0),(2,2),(1,0),(2,2): MAE = 0.5, S_pp = 1, S_gg = 4, S_pg = 2 -> ICC = 0.8."""
    pred, true = np.array([[1.0], [2.0], [4.0]]), np.array([[0.0], [2.0], [4.0]])
    codes, names = subject_codes(["A", "A", "B"])
    sums, centre = subject_sums(pred, true, codes, 2)
    vals = metrics_from_sums(sums, centre, np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]))
    assert vals["mae"][:, 0] == pytest.approx([1 / 3, 0.5, 0.0])
    assert vals["icc"][0, 0] == pytest.approx(18 / 19) == metrics.icc(pred[:, 0], true[:, 0])
    assert vals["icc"][1, 0] == pytest.approx(0.8)
    assert np.isnan(vals["icc"][2, 0])  # B alone, twice: both series constant -> undefined, as g2rl.metrics


def test_average_over_aus_skips_undefined():
    assert with_average(np.array([[0.2, np.nan, 0.4]]))[0, -1] == pytest.approx(0.3)
    assert np.isnan(with_average(np.array([[np.nan, np.nan]]))[0, -1])


def test_seed_mean_and_sd():
    mean, sd = seed_mean_sd(np.array([[0.5, 1.0], [0.7, np.nan], [0.9, 2.0]]))
    assert mean == pytest.approx([0.7, 1.5])
    assert sd == pytest.approx([0.2, np.sqrt(0.5)])
    mean1, sd1 = seed_mean_sd(np.array([[0.5]]))
    assert mean1[0] == 0.5 and np.isnan(sd1[0])


def test_identical_methods_difference_is_zero_and_win_share_half():
    run = fake_run()
    cmp = compare_methods({"Baseline": [run], "G2RL": [run]}, seeds=[0], aus=["AU01", "AU02", "AU04"])
    for m in ("icc", "mae"):
        d = cmp.differences[m]
        assert np.all(d.diff == 0) and np.all(d.lo == 0) and np.all(d.hi == 0)
        assert np.all(d.win_share == 0.5) and not d.excludes_zero.any()


def test_exchangeable_methods_ci_contains_zero_and_win_share_near_half():
    """Two methods with the same noise level but independent noise: nothing to tell apart."""
    aus = ["AU01", "AU02", "AU04"]
    base = [fake_run(seed=s, n_subjects=20) for s in (1, 2)]
    g2rl = [fake_run(seed=s, n_subjects=20) for s in (11, 12)]
    cmp = compare_methods({"Baseline": base, "G2RL": g2rl}, seeds=[0, 1], aus=aus)
    for m in ("icc", "mae"):
        d = cmp.differences[m]
        assert d.lo[-1] < 0 < d.hi[-1], (m, d.lo, d.hi)
        assert 0.2 < d.win_share[-1] < 0.8


def test_constant_shift_keeps_icc_and_moves_mae():
    """A prediction shifted by a constant c (away from the clip range) has the same ICC(3,1) on every
    resample, and its MAE moves: with zero noise MAE = |c| exactly."""
    aus = ["AU01", "AU02", "AU04"]
    base = fake_run(noise=0.3)
    shifted = RunArrays(base.subjects, base.pred + 0.5, base.true, "shifted")
    cmp = compare_methods({"Baseline": [base], "G2RL": [shifted]}, seeds=[0], aus=aus,
                          settings=BootstrapSettings(n_resamples=200, seed=1))
    icc = cmp.differences["icc"]
    assert np.allclose(icc.diff, 0, atol=1e-12) and np.allclose(icc.lo, 0, atol=1e-12) and np.allclose(icc.hi, 0, atol=1e-12)
    mae = cmp.differences["mae"]
    assert (mae.diff > 0).all() and (mae.lo > 0).all() and mae.excludes_zero.all()
    assert (mae.win_share == 0).all()  # the shifted one never has the lower MAE
    exact = RunArrays(base.subjects, base.true + 0.5, base.true, "exact")
    s = compare_methods({"G2RL": [exact]}, seeds=[0], aus=aus).summaries["G2RL"]["mae"]
    assert s.mean == pytest.approx([0.5] * 4) and s.lo == pytest.approx([0.5] * 4) and s.hi == pytest.approx([0.5] * 4)


def test_better_method_wins_and_is_marked():
    aus = ["AU01", "AU02", "AU04"]
    base = [fake_run(seed=s, noise=1.0, n_subjects=15) for s in (1, 2)]
    g2rl = [fake_run(seed=s, noise=0.3, n_subjects=15) for s in (3, 4)]
    cmp = compare_methods({"Baseline": base, "G2RL": g2rl}, seeds=[0, 1], aus=aus)
    d = cmp.differences["icc"]
    assert (d.diff > 0).all() and d.excludes_zero.all() and (d.win_share == 1).all()
    assert (cmp.differences["mae"].diff < 0).all() and (cmp.differences["mae"].win_share == 1).all()
    s = cmp.summaries["G2RL"]["icc"]
    assert s.per_seed.shape == (2, 4) and (s.lo <= s.mean).all() and (s.mean <= s.hi).all()
    assert s.mean == pytest.approx(s.per_seed.mean(axis=0)) and s.sd == pytest.approx(s.per_seed.std(axis=0, ddof=1))


def test_same_seed_same_result_other_seed_other_resamples():
    aus = ["AU01", "AU02", "AU04"]
    runs = {"Baseline": [fake_run(seed=1)], "G2RL": [fake_run(seed=2)]}
    a = compare_methods(runs, [0], aus, BootstrapSettings(seed=7))
    b = compare_methods(runs, [0], aus, BootstrapSettings(seed=7))
    c = compare_methods(runs, [0], aus, BootstrapSettings(seed=8))
    assert np.array_equal(a.differences["icc"].lo, b.differences["icc"].lo)
    assert np.array_equal(a.summaries["G2RL"]["mae"].hi, b.summaries["G2RL"]["mae"].hi)
    assert not np.array_equal(a.differences["icc"].lo, c.differences["icc"].lo)
    assert np.array_equal(resample_counts(6, BootstrapSettings(seed=7)), resample_counts(6, BootstrapSettings(seed=7)))


def test_runs_with_different_subjects_are_refused():
    a, b = fake_run(n_subjects=6, source="a.csv"), fake_run(n_subjects=5, source="b.csv")
    with pytest.raises(G2RLError, match="b.csv: test subjects"):
        compare_methods({"Baseline": [a], "G2RL": [b]}, [0], ["AU01", "AU02", "AU04"])
    with pytest.raises(G2RLError, match="2 run"):
        compare_methods({"Baseline": [a, a]}, [0], ["AU01", "AU02", "AU04"])
    with pytest.raises(G2RLError, match="n_resamples"):
        compare_methods({"Baseline": [a]}, [0], ["AU01"], BootstrapSettings(n_resamples=0))
