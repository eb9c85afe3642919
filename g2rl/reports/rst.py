"""Text from a config or a result file, made inert for reStructuredText.

Snakemake renders the report's home page and captions through Jinja and then docutils, which obeys
directives (``.. raw:: html``, ``.. include::``), roles, substitutions (``|x|``), hyperlink references
(``name_``, ```text <url>`_``) and inline markup. A value pasted into such a page must come out as the same
characters, never as markup: :func:`rst_text` puts a backslash before every character that is not a letter,
a digit or a space (docutils shows ``\\x`` as ``x`` for any character ``x``), so no markup can start; and a
value holds no ``{{``, ``{%`` or ``{#``, so Jinja reads nothing in it either. Control characters (a newline
would end the line and could start a directive) are refused earlier, by the config check
(g2rl.config, ``free strings``); here they become U+FFFD, so the function is safe on any input.
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\ufffd"


def rst_text(value: object) -> str:
    """``str(value)`` as reStructuredText that docutils renders as exactly those characters."""
    out = []
    for ch in str(value):
        if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp"):
            out.append(REPLACEMENT)  # controls, format characters, and U+2028/U+2029, which end a line too
        elif ch.isalnum() or ch == " ":
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)
