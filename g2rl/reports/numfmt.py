"""Numbers as tables print them: fixed decimals and never a negative zero; interval bounds that keep their sign.

``f"{-0.001:.2f}"`` is ``-0.00``: a reader takes it for a real negative value. Rounding first and
adding 0.0 turns the -0.0 that rounding leaves into 0.0 (IEEE: -0.0 + 0.0 == +0.0).

An interval bound is different: a CI ``[-0.043, -0.0004]`` excludes 0 and carries a mark, and printed
with 3 decimals as ``[-0.043, +0.000]`` it would seem to touch 0 and contradict its own mark. So
:func:`bound` prints a non-zero value that would round to zero with as many more decimals as it takes
(up to :data:`MAX_DECIMALS`, then in scientific notation), keeping its sign.
"""

from __future__ import annotations

import math

MAX_DECIMALS = 6


def fixed(x: float, decimals: int = 2, sign: bool = False) -> str:
    """``x`` with ``decimals`` decimals ('+' in front of positives when ``sign``); -0.004 -> '0.00'."""
    value = round(float(x), decimals) + 0.0
    return f"{value:{'+' if sign else ''}.{decimals}f}"


def bound(x: float, decimals: int = 2, sign: bool = False) -> str:
    """An interval bound: as :func:`fixed`, except that a non-zero ``x`` never prints as zero
    (-0.0004 at 3 decimals -> '-0.0004'; 3e-9 -> '+3e-09' with ``sign``)."""
    x = float(x)
    if math.isnan(x) or x == 0 or round(x, decimals) != 0:
        return fixed(x, decimals, sign)
    for more in range(decimals + 1, MAX_DECIMALS + 1):
        if round(x, more) != 0:
            return fixed(x, more, sign)
    return f"{x:{'+' if sign else ''}.0e}"


def interval(lo: float, hi: float, decimals: int = 2, sign: bool = False) -> str:
    """'[lo, hi]' with :func:`bound` on each end."""
    return f"[{bound(lo, decimals, sign)}, {bound(hi, decimals, sign)}]"
