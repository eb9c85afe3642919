"""Which way a method differs from its reference (G2RL from our Baseline), and whether the runs can say so.

A mark on a cell says three things hold for the paired difference method - reference (g2rl.evidence):

1. its 95 % CI excludes 0, the CI of the two-level bootstrap that resamples the training seeds as well as
   the test subjects, so it counts training randomness and not only which people were tested;
2. every seed's own difference on the full test set has the same sign (with two seeds whose differences
   disagree, one retraining would have reversed the conclusion, whatever the interval says);
3. the test set has enough distinct subject resamples for a percentile CI to mean something (below).

and which way: ``▲`` better than the reference, ``▼`` worse, where better means higher ICC and lower MAE
(:data:`HIGHER_IS_BETTER`). A bare mark without a direction once read as "G2RL wins" on a cell where G2RL was
worse.

With few test subjects the subject bootstrap has few distinct resamples (3 subjects: 10,
g2rl.evidence.distinct_resamples), so each 2.5 % tail of the percentile CI is one or two resample values
repeated, and "the CI excludes 0" says little. Below :data:`MIN_DISTINCT_RESAMPLES` no cell is marked and
the legend says why. 100 is a round line between 4 test subjects (35 distinct resamples: under one per
2.5 % tail if they were equally likely) and 5 (126); BP4D's development set (20 subjects; 41 in all, 21 of
them for training) and DISFA's 27 subjects are far above it, the demo's 3 BP4D subjects below.

With fewer than :data:`FEW_SEEDS` seeds the legend says that training randomness is barely sampled: with
two seeds each one alone is a quarter of the seed resamples. Every table also says how many cells it tested
and that no adjustment is made for testing them all (:func:`multiplicity_note`).
"""

from __future__ import annotations

import math
from typing import Mapping

from g2rl.evidence import distinct_resamples

HIGHER_IS_BETTER = {"ICC": True, "MAE": False}
BETTER, WORSE = "▲", "▼"
SYMBOLS = {"better": BETTER, "worse": WORSE}
# the same marks in LaTeX math without extra packages
LATEX_SYMBOLS = {BETTER: "$^{\\bigtriangleup}$", WORSE: "$^{\\bigtriangledown}$"}
MIN_DISTINCT_RESAMPLES = 100
FEW_SEEDS = 3
# the level of every interval a mark rests on (g2rl.evidence.BootstrapSettings' default)
LEVEL = 0.95


def direction(metric: str, diff: float | None, ci_excludes_0: bool, seeds_agree: bool = True) -> str:
    """'better' / 'worse' for a method vs its reference when the CI of ``diff`` (method - reference)
    excludes 0 and the seeds' own differences agree in sign, else ''. ``metric`` is 'ICC' or 'MAE'
    (either case)."""
    if not ci_excludes_0 or not seeds_agree or diff is None or math.isnan(diff) or diff == 0:
        return ""
    up = HIGHER_IS_BETTER[metric.upper()]
    return "better" if (diff > 0) == up else "worse"


def cell_direction(metric: str, cell: Mapping | None, n_subjects: int) -> str:
    """:func:`direction` of one evidence.json difference cell ({"diff", "ci_excludes_0", "seeds_agree"}),
    '' when the test subjects are too few for marks (:func:`marks_shown`)."""
    if not cell or not marks_shown(n_subjects):
        return ""
    return direction(metric, cell.get("diff"), bool(cell.get("ci_excludes_0")), bool(cell.get("seeds_agree", False)))


def marks_shown(n_subjects: int) -> bool:
    """Whether the test set has enough distinct subject resamples for a mark to mean something."""
    return distinct_resamples(n_subjects) >= MIN_DISTINCT_RESAMPLES


def seeds_note(n_seeds: int) -> str:
    """What the number of seeds means for the intervals; '' with enough of them."""
    if n_seeds <= 1:
        return ("1 seed: the intervals hold the trained model fixed and say nothing about retraining "
                "(training randomness is not sampled)")
    if n_seeds < FEW_SEEDS:
        return (f"{n_seeds} seeds: training randomness is barely sampled (each seed alone is "
                f"{100 // n_seeds ** n_seeds} % of the seed resamples), so read the intervals as rough")
    return ""


def legend(n_subjects: int, n_seeds: int, method: str = "G2RL", reference: str = "our Baseline") -> str:
    """The sentence every marked table carries: what the marks mean, or why there are none, and what the
    seeds can say."""
    n = distinct_resamples(n_subjects)
    if not marks_shown(n_subjects):
        text = (f"No {BETTER}/{WORSE} marks: {n_subjects} test subjects allow only {n} distinct bootstrap resamples "
                f"(marks need {MIN_DISTINCT_RESAMPLES}), too few for a CI of the paired difference to tell "
                f"{method} from {reference}")
    else:
        text = (f"{BETTER} / {WORSE}: {method} better / worse than {reference} (higher / lower ICC, lower / higher "
                f"MAE): the {round(LEVEL * 100)} % CI of the paired difference, resampling seeds and test subjects, "
                f"excludes 0 and every seed's own difference has that sign ({n_subjects} test subjects, {n} distinct "
                "subject resamples)")
    note = seeds_note(n_seeds)
    return text + (f". {note[0].upper()}{note[1:]}" if note else "")


def multiplicity_note(n_cells: int, primary: int = 0) -> str:
    """How many cells a table tested and what that means: no adjustment is made, so the plain warning.
    ``primary``: how many of them are the pre-stated comparison (the averages), read first."""
    if n_cells <= 0:
        return ""
    chance = n_cells * (1 - LEVEL)
    first = (f"; the {primary} average cell{'s are' if primary > 1 else ' is'} the main comparison, the rest exploratory"
             if primary else "")
    return (f"{n_cells} cells tested, each at the {round(LEVEL * 100)} % level with no adjustment for testing them "
            f"all: if nothing differed, about {chance:.1f} of them would still exclude 0 by chance{first}")
