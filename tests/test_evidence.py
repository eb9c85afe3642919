"""g2rl.evidence: the two-level bootstrap (seeds and subjects), seed aggregation and the paired comparison, on
hand-checkable data and on synthetic runs whose answer is known (an inert variant, a real shift)."""

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
    paired_difference,
    resample_counts,
    resample_seed_counts,
    seed_mean_sd,
    seed_weighted_mean,
    seeds_agree,
    subject_codes,
    subject_sums,
    with_average,
)
from g2rl.reports.marks import direction, marks_shown


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
        d = cmp.differences["G2RL"][m]
        assert np.all(d.diff == 0) and np.all(d.lo == 0) and np.all(d.hi == 0)
        assert np.all(d.win_share == 0.5) and not d.excludes_zero.any()


def test_exchangeable_methods_ci_contains_zero_and_win_share_near_half():
    """Two methods with the same noise level but independent noise: nothing to tell apart."""
    aus = ["AU01", "AU02", "AU04"]
    base = [fake_run(seed=s, n_subjects=20) for s in (1, 2)]
    g2rl = [fake_run(seed=s, n_subjects=20) for s in (11, 12)]
    cmp = compare_methods({"Baseline": base, "G2RL": g2rl}, seeds=[0, 1], aus=aus)
    for m in ("icc", "mae"):
        d = cmp.differences["G2RL"][m]
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
    icc = cmp.differences["G2RL"]["icc"]
    assert np.allclose(icc.diff, 0, atol=1e-12) and np.allclose(icc.lo, 0, atol=1e-12) and np.allclose(icc.hi, 0, atol=1e-12)
    mae = cmp.differences["G2RL"]["mae"]
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
    d = cmp.differences["G2RL"]["icc"]
    assert (d.diff > 0).all() and d.excludes_zero.all() and (d.win_share == 1).all()
    assert (cmp.differences["G2RL"]["mae"].diff < 0).all() and (cmp.differences["G2RL"]["mae"].win_share == 1).all()
    s = cmp.summaries["G2RL"]["icc"]
    assert s.per_seed.shape == (2, 4) and (s.lo <= s.mean).all() and (s.mean <= s.hi).all()
    assert s.mean == pytest.approx(s.per_seed.mean(axis=0)) and s.sd == pytest.approx(s.per_seed.std(axis=0, ddof=1))


def test_same_seed_same_result_other_seed_other_resamples():
    aus = ["AU01", "AU02", "AU04"]
    runs = {"Baseline": [fake_run(seed=1)], "G2RL": [fake_run(seed=2)]}
    a = compare_methods(runs, [0], aus, BootstrapSettings(seed=7))
    b = compare_methods(runs, [0], aus, BootstrapSettings(seed=7))
    c = compare_methods(runs, [0], aus, BootstrapSettings(seed=8))
    assert np.array_equal(a.differences["G2RL"]["icc"].lo, b.differences["G2RL"]["icc"].lo)
    assert np.array_equal(a.summaries["G2RL"]["mae"].hi, b.summaries["G2RL"]["mae"].hi)
    assert not np.array_equal(a.differences["G2RL"]["icc"].lo, c.differences["G2RL"]["icc"].lo)
    assert np.array_equal(resample_counts(6, BootstrapSettings(seed=7)), resample_counts(6, BootstrapSettings(seed=7)))


def test_runs_with_different_subjects_are_refused():
    a, b = fake_run(n_subjects=6, source="a.csv"), fake_run(n_subjects=5, source="b.csv")
    with pytest.raises(G2RLError, match="b.csv: test subjects"):
        compare_methods({"Baseline": [a], "G2RL": [b]}, [0], ["AU01", "AU02", "AU04"])
    with pytest.raises(G2RLError, match="2 run"):
        compare_methods({"Baseline": [a, a]}, [0], ["AU01", "AU02", "AU04"])
    with pytest.raises(G2RLError, match="n_resamples"):
        compare_methods({"Baseline": [a]}, [0], ["AU01"], BootstrapSettings(n_resamples=0))


def test_seed_draws_and_their_weighted_mean_by_hand():
    """Seed counts per resample sum to R and come from their own stream; one seed is a column of ones. The
    weighted mean counts a seed drawn twice twice and leaves out a seed whose value is undefined."""
    c = resample_seed_counts(2, BootstrapSettings(n_resamples=400, seed=3))
    assert c.shape == (400, 2) and (c.sum(axis=1) == 2).all()
    share = {(2, 0): (c[:, 0] == 2).mean(), (1, 1): (c[:, 0] == 1).mean(), (0, 2): (c[:, 0] == 0).mean()}
    assert share[(2, 0)] == pytest.approx(0.25, abs=0.06) and share[(1, 1)] == pytest.approx(0.5, abs=0.07)
    assert (resample_seed_counts(1, BootstrapSettings(n_resamples=5)) == 1).all()
    values = np.array([[[1.0], [1.0], [np.nan]], [[3.0], [3.0], [5.0]]])  # (R=2, B=3, 1)
    counts = np.array([[2.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(seed_weighted_mean(values, counts)[:, 0], [1.0, 2.0, 5.0])
    assert seeds_agree(np.array([[0.1, 0.1, 0.0, np.nan], [0.2, -0.1, 0.0, -0.3]])).tolist() == [True, False, False, True]


def _offset_runs(offsets, base_offset=0.10, frames=(1.0, 3.0)):
    """Two subjects A, B with the same two labelled frames each; a run's prediction is label + its offset, so
    its MAE on a subject is |offset| and the MAE of a subject set the mean over its subjects."""
    subjects = np.repeat(["A", "B"], len(frames))
    true = np.tile(np.asarray(frames), 2)[:, None]
    base = RunArrays(subjects, true + base_offset, true, "base")
    runs = [RunArrays(subjects, true + np.repeat(o, len(frames))[:, None], true, f"seed{r}") for r, o in enumerate(offsets)]
    return base, runs


def test_two_level_worked_example_of_metrics_md():
    """docs/METRICS.md's worked example. The Baseline's MAE is 0.10 on both subjects in both seeds; the variant's
    per-(seed, subject) MAE differences are d = [[-0.10, -0.06], [+0.02, 0.00]] (seed 0 much better, seed 1
    slightly worse). Over the 9 (seed draw, subject draw) combinations the resample values are -0.10 (1/16),
    -0.08 (1/8), -0.06 (1/16), -0.04 (1/8), -0.035 (1/4), -0.03 (1/8), 0.00 (1/16), +0.01 (1/8), +0.02 (1/16),
    so the 95 % interval is [-0.10, +0.02]: it holds 0, and the seeds disagree. Holding the seeds fixed (the
    subject bootstrap alone) gives [-0.04, -0.03], which excludes 0: a mark that one retraining would undo."""
    base, var = _offset_runs([(0.00, 0.04), (0.12, 0.10)])
    cmp = compare_methods({"Baseline": [base, base], "G2RL": var}, [0, 1], ["AU01"], BootstrapSettings(20000, 0))
    d = cmp.differences["G2RL"]["mae"]
    assert d.per_seed[:, 0] == pytest.approx([-0.08, 0.01]) and d.diff[0] == pytest.approx(-0.035)
    assert (d.lo[0], d.hi[0]) == (pytest.approx(-0.10), pytest.approx(0.02))
    assert not d.excludes_zero[0] and not d.seeds_agree[0]
    assert direction("MAE", d.diff[0], bool(d.excludes_zero[0]), bool(d.seeds_agree[0])) == ""
    # the same resamples with the seeds held fixed: the subject level alone
    codes, names = subject_codes(base.subjects)
    w = resample_counts(2, BootstrapSettings(20000, 0))
    from g2rl.evidence import bootstrap_seeds

    dist = {k: bootstrap_seeds([subject_sums(r.pred, r.true, codes, 2) for r in runs], w)["mae"]
            for k, runs in (("base", [base, base]), ("var", var))}
    fixed_seeds = paired_difference(dist["base"], dist["var"], dist["base"][:, 0], dist["var"][:, 0], "mae", 0.95)
    assert (fixed_seeds.lo[0], fixed_seeds.hi[0]) == (pytest.approx(-0.04), pytest.approx(-0.03))
    assert fixed_seeds.excludes_zero[0]


def _quality_runs(n_subjects, sds, seed0):
    """One run per noise level in ``sds``: label + Gaussian noise of that sd (a run's quality), fresh noise per run."""
    return [fake_run(n_subjects=n_subjects, seed=seed0 + r, noise=sd) for r, sd in enumerate(sds)]


@pytest.mark.parametrize("n_subjects", [5, 10, 27, 100, 300])
def test_an_inert_variant_gets_no_mark_at_any_subject_count(n_subjects):
    """Two seeds of the same model, whose training randomness makes one seed's run worse and the other's better
    than the Baseline's (noise sd 0.56 and 0.40 against 0.50 and 0.50): nothing to find. The subject bootstrap
    alone marked the seed mean as soon as enough subjects made its interval narrow; the two-level interval
    holds 0 (one seed alone is a quarter of the resamples) and the seeds disagree, so there is never a mark."""
    aus = ["AU01", "AU02", "AU04"]
    base = _quality_runs(n_subjects, (0.50, 0.50), 10)
    var = _quality_runs(n_subjects, (0.56, 0.40), 20)
    cmp = compare_methods({"Baseline": base, "G2RL": var}, [0, 1], aus, BootstrapSettings(1000, 0))
    for metric in ("icc", "mae"):
        d = cmp.differences["G2RL"][metric]
        assert not d.seeds_agree[-1], (metric, d.per_seed[:, -1])
        assert d.lo[-1] <= 0 <= d.hi[-1], (metric, d.lo[-1], d.hi[-1])
        for j in range(len(aus) + 1):
            mark = direction(metric, d.diff[j], bool(d.excludes_zero[j]), bool(d.seeds_agree[j]))
            assert not (marks_shown(n_subjects) and mark), (metric, j, d.per_seed[:, j], d.lo[j], d.hi[j])


@pytest.mark.parametrize("n_subjects", [5, 10, 27, 100])
def test_a_real_shift_in_every_seed_gets_a_mark(n_subjects):
    """Every seed of the variant is better (noise sd 0.30 against the Baseline's 0.50): marked ▲ on the average,
    ICC and MAE alike, from the smallest test set that allows marks."""
    aus = ["AU01", "AU02", "AU04"]
    base = _quality_runs(n_subjects, (0.50, 0.50), 10)
    var = _quality_runs(n_subjects, (0.30, 0.30), 20)
    cmp = compare_methods({"Baseline": base, "G2RL": var}, [0, 1], aus, BootstrapSettings(1000, 0))
    assert marks_shown(n_subjects)
    for metric in ("icc", "mae"):
        d = cmp.differences["G2RL"][metric]
        assert d.seeds_agree[-1] and d.excludes_zero[-1]
        assert direction(metric, d.diff[-1], True, bool(d.seeds_agree[-1])) == "better"


def test_several_rows_each_against_its_own_reference():
    """compare_methods pairs each row with the row ``against`` names, all on one set of resamples."""
    aus = ["AU01", "AU02", "AU04"]
    runs = {name: [fake_run(seed=s, noise=n) for s in (1, 2)]
            for name, n in (("Baseline", 1.0), ("Baseline pairs", 0.6), ("G2RL pairs", 0.6))}
    cmp = compare_methods(runs, [0, 1], aus, BootstrapSettings(200, 0),
                          against={"Baseline pairs": "Baseline", "G2RL pairs": "Baseline pairs"})
    assert set(cmp.differences) == {"Baseline pairs", "G2RL pairs"}
    own = cmp.differences["Baseline pairs"]["mae"].diff[0]
    assert own == pytest.approx(np.mean([metrics.mae(runs["Baseline pairs"][r].pred[:, 0], runs["Baseline pairs"][r].true[:, 0])
                                         - metrics.mae(runs["Baseline"][r].pred[:, 0], runs["Baseline"][r].true[:, 0])
                                         for r in (0, 1)]))
    assert own < 0 and cmp.against == {"Baseline pairs": "Baseline", "G2RL pairs": "Baseline pairs"}
    with pytest.raises(G2RLError, match="both need runs"):
        compare_methods(runs, [0, 1], aus, against={"G2RL pairs": "nope"})
