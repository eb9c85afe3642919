"""Numbers as tables print them: fixed decimals and never a negative zero.

``f"{-0.001:.2f}"`` is ``-0.00``: a reader takes it for a real negative value. Rounding first and
adding 0.0 turns the -0.0 that rounding leaves into 0.0 (IEEE: -0.0 + 0.0 == +0.0).
"""

from __future__ import annotations


def fixed(x: float, decimals: int = 2, sign: bool = False) -> str:
    """``x`` with ``decimals`` decimals ('+' in front of positives when ``sign``); -0.004 -> '0.00'."""
    value = round(float(x), decimals) + 0.0
    return f"{value:{'+' if sign else ''}.{decimals}f}"
