"""The JSON result files (metrics.json, evidence.json, diagnostics.json): strict JSON, a ``format``
tag, written atomically, read back with one clear error naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError


def write_json(obj: dict, path: str | os.PathLike) -> Path:
    """Write ``obj`` as strict JSON (a NaN is an error: convert it to None first), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    return path


def read_json(path: str | os.PathLike, fmt: str, what: str) -> dict:
    """Load a JSON object whose ``format`` is ``fmt``; :class:`G2RLError` naming the file otherwise.

    ``what`` names the kind of file in the messages (e.g. 'metrics': 'metrics file not found')."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise G2RLError(f"{path}: {what} file not found") from None
    except json.JSONDecodeError as exc:
        raise G2RLError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise G2RLError(f"{path}: not a {fmt} {what} file")
    return obj
