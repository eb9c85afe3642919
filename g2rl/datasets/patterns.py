"""Path patterns from the config (`{root}`, `{subject}`, `{session}`, `{au}`, `{frame}` fields)."""

from __future__ import annotations

import glob
from pathlib import Path

from g2rl.errors import ConfigError

_MARK = "\x00SESSION\x00"


def fill(pattern: str, **fields) -> Path:
    """Format a path pattern; an unknown field is a config error naming the pattern."""
    try:
        return Path(pattern.format(**fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"path pattern {pattern!r}: cannot fill it with {sorted(fields)} ({exc})") from None


def discover(pattern: str, field: str, **fields) -> list[str]:
    """All values of one `{field}` for which a file matching the pattern exists, sorted.

    Used to find BP4D's tasks: `discover(label_pattern, "session", root=..., subject="F001", au=6)`.
    """
    marked = str(fill(pattern, **fields, **{field: _MARK}))
    prefix, _, suffix = marked.partition(_MARK)
    if _MARK in suffix:
        raise ConfigError(f"path pattern {pattern!r} uses {{{field}}} more than once; cannot discover its values")
    found = glob.glob(glob.escape(prefix) + "*" + glob.escape(suffix))
    values = {p[len(prefix) : len(p) - len(suffix)] for p in found}
    return sorted(v for v in values if v and "/" not in v)
