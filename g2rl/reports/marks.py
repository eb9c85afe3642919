"""Which way G2RL differs from our Baseline, and whether the test set can say so.

A mark on a G2RL cell says the CI of the paired difference G2RL - Baseline (g2rl.evidence) excludes 0,
and which way: ``▲`` G2RL better than our Baseline, ``▼`` worse, where better means higher ICC and
lower MAE (:data:`HIGHER_IS_BETTER`). A bare mark without a direction once read as "G2RL wins" on a cell
where G2RL was worse.

With few test subjects the subject bootstrap has few distinct resamples (3 subjects: 10,
g2rl.evidence.distinct_resamples), so each 2.5 % tail of the percentile CI is one or two resample values
repeated, and "the CI excludes 0" says little. Below :data:`MIN_DISTINCT_RESAMPLES` no cell is marked and
the legend says why. 100 is a round line between 4 test subjects (35 distinct resamples: under one per
2.5 % tail if they were equally likely) and 5 (126); BP4D's 41-subject development set and DISFA's 27
subjects are far above it, the demo's 3 BP4D subjects below.
"""

from __future__ import annotations

import math

from g2rl.evidence import distinct_resamples

HIGHER_IS_BETTER = {"ICC": True, "MAE": False}
BETTER, WORSE = "▲", "▼"
SYMBOLS = {"better": BETTER, "worse": WORSE}
# the same marks in LaTeX math without extra packages
LATEX_SYMBOLS = {BETTER: "$^{\\bigtriangleup}$", WORSE: "$^{\\bigtriangledown}$"}
MIN_DISTINCT_RESAMPLES = 100


def direction(metric: str, diff: float | None, ci_excludes_0: bool) -> str:
    """'better' / 'worse' for G2RL vs the Baseline when the CI of ``diff`` (G2RL - Baseline) excludes 0,
    else ''. ``metric`` is 'ICC' or 'MAE' (either case)."""
    if not ci_excludes_0 or diff is None or math.isnan(diff) or diff == 0:
        return ""
    up = HIGHER_IS_BETTER[metric.upper()]
    return "better" if (diff > 0) == up else "worse"


def marks_shown(n_subjects: int) -> bool:
    """Whether the test set has enough distinct subject resamples for a mark to mean something."""
    return distinct_resamples(n_subjects) >= MIN_DISTINCT_RESAMPLES


def legend(n_subjects: int) -> str:
    """The sentence every marked table carries: what the marks mean, or why there are none."""
    n = distinct_resamples(n_subjects)
    if not marks_shown(n_subjects):
        return (f"No {BETTER}/{WORSE} marks: {n_subjects} test subjects allow only {n} distinct bootstrap resamples "
                f"(marks need {MIN_DISTINCT_RESAMPLES}), too few for a CI of the paired difference to tell "
                "G2RL from the Baseline")
    return (f"{BETTER} / {WORSE}: G2RL better / worse than our Baseline (higher / lower ICC, lower / higher MAE), "
            f"the CI of the paired difference G2RL - Baseline excluding 0 ({n_subjects} test subjects, "
            f"{n} distinct resamples)")
