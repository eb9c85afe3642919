"""``generate_demo``: the whole demo dataset (DISFA-like and BP4D-like trees) for one seed.

Deterministic: every random number comes from a stream seeded by (seed, subject, purpose)
(:func:`g2rl.demo.identity.subject_rng`), so a rerun with the same arguments writes the same label
files, the same JPEG bytes and the same video frames. The tree is built in a temporary sibling
directory and renamed onto ``out_dir`` only when complete, so an interrupted run never looks finished.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from g2rl.config_ranges import config_range
from g2rl.demo.expressions import AUS, BP4D_AUS, DISFA_AUS
from g2rl.demo.faces import BASE_NAMES
from g2rl.demo.identity import make_identity, subject_rng
from g2rl.demo.render import FaceRenderer
from g2rl.demo.trajectories import intensity_tracks, labels_from, pose_track
from g2rl.demo.writer import not_coded_mask, write_bp4d_sequence, write_disfa_subject
from g2rl.errors import G2RLError
from g2rl.formats import DEMO_SUMMARY_NAME

log = logging.getLogger(__name__)

DEFAULT_DISFA_SUBJECTS = ("SN001", "SN002", "SN011", "SN013", "SN003", "SN023")
DEFAULT_BP4D_TRAIN = ("F001", "M001", "F003")
DEFAULT_BP4D_DEVEL = ("F002", "M002", "F004")
DEFAULT_BP4D_TASKS = ("T1", "T2")
DEFAULT_FRAME_SIZE = (384, 288)  # (W, H): 4:3 like DISFA's 1024 x 768, small enough to be quick
# The 3-fold DISFA subject split most public code uses (g2rl/resources/config.schema.yaml's default folds);
# the demo summary reports each subject's part.
DISFA_PUBLIC_FOLDS = {
    1: ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
    2: ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
    3: ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"),
}
SUMMARY_NAME = DEMO_SUMMARY_NAME  # the tree's summary; provenance looks for it (g2rl.formats)


def _frames(renderer: FaceRenderer, curves: dict[int, np.ndarray], poses: np.ndarray):
    for k in range(len(poses)):
        yield renderer.render({au: float(c[k]) for au, c in curves.items()}, tuple(poses[k]))


def _sequence(subject: str, base: str, seed: int, stream: str, n: int, frame_size, required, min_strong):
    """Renderer, continuous intensity curves and pose track of one sequence."""
    renderer = FaceRenderer(make_identity(subject, base, seed), frame_size)
    rng = subject_rng(seed, subject, stream)
    curves = intensity_tracks(n, rng, required=required, min_strong_events=min_strong)
    poses = pose_track(n, rng, *renderer.pose_amplitudes())
    return renderer, curves, poses


def _check_ids(kind: str, ids: Sequence[str]) -> list[str]:
    ids = [str(s) for s in ids]
    if len(set(ids)) != len(ids):
        raise G2RLError(f"demo data: duplicate {kind} in {ids}")
    for s in ids:
        if not s or "/" in s or os.sep in s or s.startswith("."):
            raise G2RLError(f"demo data: {kind} {s!r} is not a usable file-name component")
    return ids


def generate_demo(out_dir: str | os.PathLike, seed: int = 0,
                  disfa_subjects: Sequence[str] = DEFAULT_DISFA_SUBJECTS, disfa_frames: int = 200,
                  bp4d_train: Sequence[str] = DEFAULT_BP4D_TRAIN, bp4d_devel: Sequence[str] = DEFAULT_BP4D_DEVEL,
                  bp4d_tasks: Sequence[str] = DEFAULT_BP4D_TASKS, bp4d_frames: int = 80,
                  frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE, workers: int = 1) -> dict:
    """Write ``{out_dir}/DISFA`` and ``{out_dir}/BP4D`` (layouts: :mod:`g2rl.demo.writer`) and a summary.

    disfa_frames: frames per DISFA video; bp4d_frames: frames per BP4D sequence (each >= 20).
    frame_size: (W, H) px of every frame. workers: processes rendering sequences in parallel (the
    output is byte-identical whatever the number). Subjects alternate between the two base photos in list
    order; each gets its own identity. An empty subject list writes no tree for that dataset (its
    summary then counts 0 frames). In every DISFA video each of the 12 AUs reaches label >= 3 in
    at least 2 separate stretches (1 in videos under 100 frames); in every BP4D sequence each of AUs 6 10 12 14 17 does at least once.

    Returns the summary dict (also written to ``{out_dir}/demo_summary.json`` without the timing):
    seed, frame_size, per-dataset subjects / frames / sequences, DISFA public-fold membership,
    per-AU fraction of frames with label > 0, and ``seconds`` (wall time of this call).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    disfa_subjects = _check_ids("DISFA subject", disfa_subjects)
    bp4d_train = _check_ids("BP4D subject", bp4d_train)
    bp4d_devel = _check_ids("BP4D subject", bp4d_devel)
    bp4d_tasks = _check_ids("BP4D task", bp4d_tasks)
    if not disfa_subjects and not bp4d_train and not bp4d_devel:
        raise G2RLError("demo data: no subjects at all (give DISFA subjects or BP4D train/devel subjects)")
    if set(bp4d_train) & set(bp4d_devel):
        raise G2RLError(f"demo data: BP4D subjects in both train and devel: {sorted(set(bp4d_train) & set(bp4d_devel))}")
    least = config_range("demo.disfa_frames").minimum  # the schema's one minimum (an event needs them)
    if disfa_frames < least or bp4d_frames < least:
        raise G2RLError(f"demo data: need >= {least} frames per sequence (got disfa_frames={disfa_frames}, "
                        f"bp4d_frames={bp4d_frames})")
    frame_size = (int(frame_size[0]), int(frame_size[1]))
    if min(frame_size) < 160:
        raise G2RLError(f"demo data: frame_size {frame_size} too small for dlib to find the faces (min side 160)")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / SUMMARY_NAME).is_file():
        raise G2RLError(f"{out_dir}: exists and is not a demo dataset (no {SUMMARY_NAME}); refusing to replace it")

    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        summary = _write_all(tmp, seed, disfa_subjects, disfa_frames, bp4d_train, bp4d_devel, bp4d_tasks,
                             bp4d_frames, frame_size, max(1, int(workers)))
        with open(tmp / SUMMARY_NAME, "w") as fh:
            json.dump(summary, fh, indent=1, sort_keys=True)
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an earlier demo tree (checked above) or an empty folder
        os.replace(tmp, out_dir)
    except OSError as exc:  # a full disk: name the file as it would have been, not inside the hidden folder
        raise _named_in(exc, tmp, out_dir) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("demo dataset written to %s in %.1f s", out_dir, summary["seconds"])
    return summary


def _named_in(exc: OSError, tmp: Path, out_dir: Path) -> OSError:
    """``exc`` with its file names moved from the temporary folder ``tmp`` to ``out_dir``, where the
    user looks (``.demo.tmp-123/BP4D/x.jpg`` -> ``demo/BP4D/x.jpg``); other names stay."""
    def moved(name):
        if name is None:
            return None
        path = Path(os.fsdecode(name))
        return str(out_dir / path.relative_to(tmp)) if path == tmp or tmp in path.parents else name

    if exc.filename is None and exc.filename2 is None:
        return OSError(exc.errno, exc.strerror or str(exc), str(out_dir))
    return OSError(exc.errno, exc.strerror or str(exc), moved(exc.filename), None, moved(exc.filename2))


def _disfa_job(root: Path, seed: int, i: int, subject: str, n: int, frame_size) -> dict:
    """Render and write one DISFA subject; returns its label counts (labels > 0 per AU)."""
    # two separate strong stretches per AU need room; short test videos get one
    strong = 2 if n >= 100 else 1
    renderer, curves, poses = _sequence(subject, BASE_NAMES[i % 2], seed, "disfa", n, frame_size, DISFA_AUS, strong)
    labels = {au: labels_from(curves[au]) for au in DISFA_AUS}
    written = write_disfa_subject(root / "DISFA", subject, _frames(renderer, curves, poses), labels, frame_size)
    log.info("DISFA %s: %d frames", subject, written)
    return {"frames": written, "nonzero": {au: int((labels[au] > 0).sum()) for au in DISFA_AUS}}


def _bp4d_job(root: Path, seed: int, i: int, j: int, n_tasks: int, subject: str, task: str, partition: str, n: int,
              frame_size) -> dict:
    """Render and write one BP4D sequence; returns its layout facts and label counts."""
    renderer, curves, poses = _sequence(subject, BASE_NAMES[i % 2], seed, f"bp4d-{task}", n, frame_size, BP4D_AUS, 1)
    rng = subject_rng(seed, subject, f"bp4d-{task}-layout")
    start = int(rng.integers(2, 41))  # not 0 or 1: the reader must not assume where numbering starts
    padding = (2, 3, 4)[(i * n_tasks + j) % 3]  # every padding occurs, so the reader's search is exercised
    codes, nonzero = {}, {}
    for au in BP4D_AUS:
        lab = labels_from(curves[au])
        nonzero[au] = int((lab > 0).sum())
        codes[au] = np.where(not_coded_mask(n, rng), 9, lab)
    written = write_bp4d_sequence(root / "BP4D", subject, task, _frames(renderer, curves, poses), codes, start, padding)
    log.info("BP4D %s/%s: %d frames", subject, task, written)
    return {"subject": subject, "task": task, "start": start, "padding": padding, "frames": written,
            "partition": partition, "nonzero": nonzero,
            "not_coded": {f"AU{au:02d}": int((codes[au] == 9).sum()) for au in BP4D_AUS}}


def _write_all(root: Path, seed, disfa_subjects, disfa_frames, bp4d_train, bp4d_devel, bp4d_tasks, bp4d_frames,
               frame_size, workers: int) -> dict:
    jobs = [(_disfa_job, (root, seed, i, s, disfa_frames, frame_size)) for i, s in enumerate(disfa_subjects)]
    bp4d_subjects = [(s, "train") for s in bp4d_train] + [(s, "devel") for s in bp4d_devel]
    jobs += [(_bp4d_job, (root, seed, i, j, len(bp4d_tasks), s, task, part, bp4d_frames, frame_size))
             for i, (s, part) in enumerate(bp4d_subjects) for j, task in enumerate(bp4d_tasks)]
    if workers > 1:
        # Sequences are independent (own random streams, own files), so the result does not depend on
        # the number of workers or the order they finish in.
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(fn, *args) for fn, args in jobs]
            results = [f.result() for f in futures]
    else:
        results = [fn(*args) for fn, args in jobs]
    disfa_res, bp4d_res = results[: len(disfa_subjects)], results[len(disfa_subjects):]

    n_disfa = sum(r["frames"] for r in disfa_res)
    n_bp4d = sum(r["frames"] for r in bp4d_res)
    folds = {s: next((k for k, members in DISFA_PUBLIC_FOLDS.items() if s in members), None) for s in disfa_subjects}
    return {
        "seed": int(seed),
        "frame_size": list(frame_size),
        "rendered_aus": list(AUS),
        "disfa": {"root": "DISFA", "subjects": disfa_subjects, "frames_per_video": disfa_frames,
                  "total_frames": n_disfa, "public_fold": folds, "aus": list(DISFA_AUS),
                  "nonzero_fraction": {f"AU{au:02d}": round(sum(r["nonzero"][au] for r in disfa_res) / max(1, n_disfa), 4)
                                       for au in DISFA_AUS}},
        "bp4d": {"root": "BP4D", "train": bp4d_train, "devel": bp4d_devel, "tasks": bp4d_tasks,
                 "frames_per_sequence": bp4d_frames, "total_frames": n_bp4d,
                 "sequences": [{k: v for k, v in r.items() if k != "nonzero"} for r in bp4d_res],
                 "aus": list(BP4D_AUS),
                 "nonzero_fraction": {f"AU{au:02d}": round(sum(r["nonzero"][au] for r in bp4d_res) / max(1, n_bp4d), 4)
                                      for au in BP4D_AUS}},
    }
