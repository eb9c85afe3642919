"""What defines a training run, so that ``last.pt`` is only ever continued by the same run.

A resume checkpoint carries the identity of the run that wrote it. Continuing it with anything
else would silently mix two runs: e.g. after a change of ``disfa.folds`` the resumed epochs were
trained with subjects that are now test subjects. The identity therefore covers

* ``format``: :data:`RESUME_FORMAT`, bumped whenever last.pt's content or what an epoch computes
  changes incompatibly;
* ``settings``: the settings' ``to_dict()`` whole (and that of any further config object, e.g.
  a model config), so a field added later is covered without touching this module;
* ``seed``, ``test_split``, ``aus``;
* ``data``: the crops and heatmaps caches' fingerprints (a new random id per build), the exact
  sorted train and test subject lists and the row counts.

On a mismatch :func:`resume_decision` either starts over (logged; the workflow's choice: the
outputs are rebuilt because their inputs changed) or refuses with one line naming the checkpoint
and the differing keys (the CLI's default: a user may not expect the restart).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from g2rl.errors import G2RLError

_log = logging.getLogger(__name__)

RESUME_FORMAT = 2  # 1: settings + seed + test split + AUs only (before the data was part of it)
ON_STALE = ("refuse", "restart")


def _fingerprint(path: str | os.PathLike | None) -> str | None:
    """The ``fingerprint`` attribute of a g2rl HDF5 cache, or None without a file."""
    if path is None:
        return None
    from g2rl.preprocess.h5read import open_h5

    with open_h5(path) as f:
        value = f.attrs.get("fingerprint")
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def data_identity(crops_h5, heatmaps_h5, keys, train_rows: Sequence[int], test_rows: Sequence[int]) -> dict[str, Any]:
    """The data part of the identity: cache fingerprints and the exact subjects on each side.

    keys: the cache's frame keys (a DataFrame with a ``subject`` column, one row per cache row);
    train_rows / test_rows: the cache rows of each side.
    """
    subjects = np.asarray(keys["subject"]).astype(str)
    return {
        "crops_fingerprint": _fingerprint(crops_h5),
        "heatmaps_fingerprint": _fingerprint(heatmaps_h5),
        "train_subjects": sorted(set(subjects[np.asarray(train_rows, dtype=np.int64)].tolist())),
        "test_subjects": sorted(set(subjects[np.asarray(test_rows, dtype=np.int64)].tolist())),
        "n_train": int(len(train_rows)),
        "n_test": int(len(test_rows)),
    }


def run_identity(settings, seed: int, info: dict[str, Any], *configs) -> dict[str, Any]:
    """The identity a resume checkpoint is stamped with (plain types only).

    settings: anything with ``to_dict()`` (TrainSettings); configs: further such objects (a model
    config) or plain dicts, all included whole; info: the run's info dict (``test_split``, ``aus``
    and, from :func:`data_identity`, ``data``).
    """
    def whole(obj):
        return obj.to_dict() if hasattr(obj, "to_dict") else obj

    return {
        "format": RESUME_FORMAT,
        "settings": whole(settings),
        "configs": [whole(c) for c in configs],
        "seed": int(seed),
        "test_split": info.get("test_split"),
        "aus": list(info.get("aus") or []),
        "data": info.get("data"),
    }


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted names of the entries that differ between two identities (``settings.lr``, ``data.test_subjects``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(name)
            else:
                out.extend(differences(old[key], new[key], name))
        return out
    return [] if old == new else [prefix or "identity"]


def resume_decision(last_path: str | os.PathLike, saved: Any, identity: dict[str, Any], on_stale: str,
                    logger: logging.Logger | None = None) -> bool:
    """Whether ``last_path`` (stamped ``saved``) may be continued by the run ``identity``.

    True: same run, resume. False: a different run and ``on_stale == "restart"``: the stale file
    is removed and the caller starts from epoch 0 (a warning names what changed). A different run
    with ``on_stale == "refuse"`` raises :class:`G2RLError` naming the file and what changed.
    """
    if on_stale not in ON_STALE:
        raise G2RLError(f"on_stale_resume must be one of {ON_STALE}, got {on_stale!r}")
    if saved == identity:
        return True
    changed = differences(saved if isinstance(saved, dict) else {}, identity)
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    last_path = Path(last_path)
    if on_stale == "refuse":
        raise G2RLError(
            f"{last_path}: resume checkpoint belongs to another run (differs in: {shown}); delete it, use "
            "another --out, or pass --on-stale-resume restart to start over"
        )
    (logger or _log).warning("%s: resume checkpoint belongs to another run (differs in: %s); starting over",
                             last_path, shown)
    last_path.unlink(missing_ok=True)
    return False
