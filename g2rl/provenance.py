"""Provenance: which code, config, data, weights and machine produced a result.

A training run writes one record (``model.pt``'s ``meta["provenance"]`` and
``predictions.provenance.json`` beside its predictions); ``metrics.json`` holds the records of the
runs it evaluated under ``"provenance"``; every Table 1 and figure gets ``<name>.provenance.json``
beside it with the records of its inputs. A record (plain JSON types only)::

    {"format": "g2rl-provenance/1", "created": "2026-11-28T21:00:00Z",
     "code": {"commit": "<git sha>" | "unknown", "dirty": bool | null, "g2rl": "0.1.0"},
     "config_sha256": "<sha256 of the run's effective settings>", "config": {...},
     "versions": {"python": .., "torch": .., "torchvision": .., "torch-geometric": .., "dlib": ..,
                  "snakemake": .., "numpy": .., "h5py": ..},
     "dataset": {"name": "disfa", "kind": "demo" | "real" | "unknown", "media_root": "/data/DISFA/...",
                 "frame_index_fingerprint": "<sha256 of the frame index rows>"},
     "caches": {"crops": "<fingerprint attr>", "heatmaps": "<fingerprint attr>"},
     "weights": {"kind": "torchvision" | "file" | "random", "name": .., "sha256": .., ...},
     "device": {"type": "cpu" | "cuda", "name": "<CPU model / GPU name>", "precision": "bf16" | "fp32",
                "index": 1, "card": "5"},  # the last two on CUDA only: torch's index, CUDA_VISIBLE_DEVICES' name
     "wall_seconds": 123.4}

The config hash covers every training setting except the swept sigma and lambda, so every row of
one Table 1 (Baseline and G2RL) and every point of one sweep share it unless the runs really were
configured differently; that is what :func:`mixed` compares.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

from g2rl.errors import G2RLError
from g2rl.formats import DEMO_SUMMARY_NAME

FORMAT = "g2rl-provenance/1"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# label -> distribution names to try (first installed wins)
VERSION_SOURCES = {
    "torch": ("torch",), "torchvision": ("torchvision",), "torch-geometric": ("torch-geometric", "torch_geometric"),
    "dlib": ("dlib-bin", "dlib"), "snakemake": ("snakemake",), "numpy": ("numpy",), "h5py": ("h5py",),
}  # fmt: skip
# settings that a sweep varies on purpose: not part of the config hash (they are in the run's labels)
SWEPT_SETTINGS = ("lambda_g", "sigma")
# what must agree between the runs of one table or figure (per dataset for the data keys)
IDENTITY_KEYS = ("commit", "config", "weights", "data")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=None)
def git_state(root: str = str(PACKAGE_ROOT)) -> tuple[str, bool | None]:
    """(commit, dirty) of the checkout g2rl runs from; ('unknown', None) without git or outside a checkout.

    Only a repository whose top level is the package's own root counts: an installed g2rl inside
    some other repository's virtualenv must not report that repository's commit.
    """

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return "unknown", None
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", None
    return commit, dirty


def code_state() -> dict[str, Any]:
    from g2rl import __version__

    commit, dirty = git_state()
    return {"commit": commit, "dirty": dirty, "g2rl": __version__}


@functools.lru_cache(maxsize=None)
def _versions() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for label, dists in VERSION_SOURCES.items():
        found = "not installed"
        for dist in dists:
            try:
                found = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        out.append((label, found))
    return tuple(out)


def versions() -> dict[str, str]:
    """Versions of python and the libraries a result depends on ('not installed' when absent)."""
    return dict(_versions())


def sha256_json(value: Any) -> str:
    """sha256 of canonical JSON (sorted keys): equal for equal settings, whatever their order."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def experiment_config(settings: dict[str, Any], **more: Any) -> dict[str, Any]:
    """The settings a run shares with the other runs of its experiment (swept ones removed)."""
    config = {k: v for k, v in settings.items() if k not in SWEPT_SETTINGS}
    config.update({k: v for k, v in more.items() if v is not None})
    return config


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


# --------------------------------------------------------------------------- data identity


def frame_index_fingerprint(index) -> str:
    """sha256 of a frame index's rows (a pandas DataFrame), independent of how it was stored."""
    import pandas as pd

    return hashlib.sha256(pd.util.hash_pandas_object(index, index=False).to_numpy().tobytes()).hexdigest()


def media_folders(media: Iterable[str]) -> set[Path]:
    """The resolved folders holding the media files. Folders first (a string operation), then one
    resolve each: BP4D has ~150k images in ~330 folders."""
    return {Path(os.path.abspath(d)).resolve() for d in {os.path.dirname(m) for m in media}}


def data_kind(folders: Iterable[Path]) -> str:
    """'demo' when every media folder lies under a folder the demo generator wrote (it leaves its
    summary file there), else 'real'."""
    folders = list(folders)
    if not folders:
        return "unknown"
    for folder in folders:
        if not any((p / DEMO_SUMMARY_NAME).is_file() for p in [folder, *folder.parents][:6]):
            return "real"
    return "demo"


def dataset_attrs(index) -> dict[str, str]:
    """Crops-cache attributes that say which data the cache was built from (read back by
    g2rl.preprocess.batches.cache_identity)."""
    folders = media_folders(index["media"].astype(str).unique())
    root = os.path.commonpath(sorted(map(str, folders))) if folders else ""
    return {"data_kind": data_kind(folders), "media_root": root, "frame_index_fingerprint": frame_index_fingerprint(index)}


# --------------------------------------------------------------------------- records


def training_record(
    settings: dict[str, Any], weights: dict[str, Any], device: dict[str, Any], wall_seconds: float,
    dataset: dict | None = None, caches: dict | None = None, **extra: Any,
) -> dict[str, Any]:
    """The provenance record of one training run (plain types)."""
    config = experiment_config(settings)
    return {
        "format": FORMAT, "created": utc_now(), "code": code_state(), "config_sha256": sha256_json(config),
        "config": config, "versions": versions(), "dataset": dataset or {"kind": "unknown"},
        "caches": caches or {}, "weights": weights, "device": device, "wall_seconds": round(float(wall_seconds), 3),
        **extra,
    }  # fmt: skip


def collection(inputs: dict[str, dict | None], what: str) -> dict[str, Any]:
    """Provenance of a result made from other results: this step's code and versions, and the
    record of each input (None = the input carries none)."""
    return {
        "format": FORMAT, "created": utc_now(), "what": what, "code": code_state(), "versions": versions(),
        "inputs": {str(k): v for k, v in inputs.items()},
    }  # fmt: skip


def sidecar_path(path: str | os.PathLike) -> Path:
    """The provenance file beside a result: `table1_disfa.csv` -> `table1_disfa.provenance.json`."""
    p = Path(path)
    return p.with_name(p.stem + ".provenance.json")


def runs_of(record: dict | None) -> list[dict]:
    """Every training record inside a provenance document (itself, its inputs', recursively)."""
    if not isinstance(record, dict):
        return []
    if "config_sha256" in record:
        return [record]
    out: list[dict] = []
    for key in ("inputs", "runs"):
        children = record.get(key) or {}
        for child in children.values() if isinstance(children, dict) else children:
            out += runs_of(child)
    return out


def weights_label(w: dict | None) -> str:
    if not w:
        return "unknown"
    if w.get("kind") == "random":
        return "random"
    if w.get("kind") == "torchvision":
        return str(w.get("name"))
    return f"file sha256 {str(w.get('sha256'))[:12]}"


def identity(run: dict) -> dict[str, str]:
    """The comparable fields of one training record, as short strings."""
    code = run.get("code") or {}
    commit = str(code.get("commit", "unknown"))
    dirty = code.get("dirty")
    data = run.get("dataset") or {}
    return {
        "commit": commit[:12] + (" (modified tree)" if dirty else ""),
        "config": str(run.get("config_sha256", "unknown"))[:12],
        "weights": weights_label(run.get("weights")),
        "data": f"{data.get('name')}:{data.get('kind', 'unknown')}:{str(data.get('frame_index_fingerprint'))[:12]}",
    }


def distinct(records: Sequence[dict | None]) -> dict[str, list[str]]:
    """Per identity key, the sorted distinct values over every run inside ``records``;
    an input without provenance adds 'unknown' to each key."""
    values: dict[str, set[str]] = {k: set() for k in IDENTITY_KEYS}
    for rec in records:
        runs = runs_of(rec)
        if not runs:
            for k in IDENTITY_KEYS:
                values[k].add("unknown")
        for run in runs:
            for k, v in identity(run).items():
                values[k].add(v)
    return {k: sorted(v) for k, v in values.items()}


def mixed(records: Sequence[dict | None], keys: Sequence[str] = IDENTITY_KEYS) -> dict[str, list[str]]:
    """The identity keys on which the runs behind ``records`` disagree (empty = one provenance)."""
    return {k: v for k, v in distinct(records).items() if k in keys and len(v) > 1}


_KEY_WORDS = {"commit": "code versions", "config": "configurations", "weights": "initialisations", "data": "datasets"}


def initialisation_note(records: Sequence[dict | None]) -> str:
    """The caption sentence on how the backbones were initialised."""
    labels = distinct(records)["weights"]
    if labels == ["random"]:
        return "Backbone initialisation: RANDOM (no ImageNet weights), unlike the paper, which starts from ImageNet."
    if len(labels) == 1 and labels[0] != "unknown":
        what = labels[0]
        return f"Backbone initialisation: ImageNet ({what})." if "_Weights." in what else f"Backbone initialisation: {what}."
    return f"Backbone initialisation: MIXED or unknown across runs ({', '.join(labels)})."


def provenance_note(records: Sequence[dict | None], sidecar: str, keys: Sequence[str] = IDENTITY_KEYS) -> str:
    """The caption sentence on provenance: one commit and config, or what is mixed."""
    diff = mixed(records, keys)
    if diff:
        parts = [f"{len(v)} {_KEY_WORDS[k]} ({', '.join(v)})" for k, v in diff.items()]
        return f"MIXED PROVENANCE: these results come from {'; '.join(parts)}; details in {sidecar}."
    d = distinct(records)
    return f"Provenance: code {d['commit'][0]}, config {d['config'][0]}; details in {sidecar}."


# --------------------------------------------------------------------------- reading


def read_provenance(path: str | os.PathLike) -> dict:
    """The provenance of any g2rl result: metrics.json, model.pt, a .provenance.json, or a file
    with a ``<stem>.provenance.json`` beside it."""
    path = Path(path)
    if not path.exists():
        raise G2RLError(f"{path}: file not found")
    if path.suffix == ".pt":
        from g2rl.torchfile import load_torch_file

        ckpt = load_torch_file(path, "g2rl model checkpoint")
        meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
        if not isinstance(meta, dict):
            raise G2RLError(f"{path}: not a g2rl model checkpoint (no meta)")
        if "provenance" not in meta:
            raise G2RLError(f"{path}: checkpoint written before provenance was recorded (no meta['provenance'])")
        return meta["provenance"]
    if path.suffix == ".json":
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise G2RLError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(doc, dict) and str(doc.get("format", "")).startswith(("g2rl-provenance/", "g2rl-weights/")):
            return doc
        if isinstance(doc, dict) and "provenance" in doc:
            return doc["provenance"]
    side = sidecar_path(path)
    if side.is_file():
        return read_provenance(side)
    raise G2RLError(f"{path}: carries no provenance and has no {side.name} beside it")


def predictions_provenance(prediction_csvs: Sequence[str | os.PathLike]) -> dict:
    """metrics.json's "provenance": this step's code, and the training record beside each
    predictions file (null for a predictions file made without one)."""
    inputs: dict[str, dict | None] = {}
    for p in prediction_csvs:
        side = sidecar_path(p)
        inputs[str(p)] = read_provenance(side) if side.is_file() else None
    return collection(inputs, "metrics")
