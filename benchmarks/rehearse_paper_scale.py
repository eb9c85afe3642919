"""Rehearse the paper-scale pipeline on demo data of the real datasets' sizes (issue 21, item 4).

The licensed data is not on the development machines, so this generates demo faces in the real
on-disk layouts at the real sizes (DISFA: 27 subjects x 4,845 frames at 1024 x 768, 20 fps; BP4D
FERA 2015: 21 train + 20 devel subjects x 8 tasks x ~446 frames of 1040 x 1392 JPEGs), or a fraction
of them, and runs the real workflow (Snakemake) on it with the paper's settings: crop size 256, the
G2RL author's AU points (pairs, one heatmap per point), one sigma, ResNet-50 + 256 x 3 deconvolutions.
Training is a bounded slice on the CPU (``--max-train-samples`` random frames, 1 epoch, random init),
read through the real loader from the whole cache; the test side is kept to ``--test-subjects``
subjects (DISFA fold "1" / BP4D devel), so the CPU test pass stays bounded while every other subject
is training data. Per stage it prints wall time, CPU time, peak RSS (the rules' ``benchmark:``
records), disk and frame counts, then the loader's random-access read rate on the cold cache
(page cache dropped when run as root) against what a GPU training needs.

Commands (docs/PERFORMANCE.md, "Paper-scale cost", has the measured tables; benchmarks/records/ the records):

    # DISFA at full size (27 subjects x 4,845 frames, rendered), to the training slice and the cold read rate,
    # then evaluate / evidence / Table 1 on synthetic predictions of every frame (--resume keeps what was measured)
    python benchmarks/rehearse_paper_scale.py --dataset disfa --fraction 1 --read-samples 4000 --scratch /work/scratch-scale/disfa-full
    python benchmarks/rehearse_paper_scale.py --dataset disfa --fraction 1 --read-samples 4000 --until evaluation --resume \
        --scratch /work/scratch-scale/disfa-full --clean
    # 1/9 and 1/3 of DISFA (3 and 9 subjects); --copy-data-from reuses a smaller run's rendered videos
    python benchmarks/rehearse_paper_scale.py --dataset disfa --fraction 1/9 --scratch /work/scratch-scale/disfa-1of9
    python benchmarks/rehearse_paper_scale.py --dataset disfa --fraction 1/3 \
        --copy-data-from /work/scratch-scale/disfa-1of9/data --scratch /work/scratch-scale/disfa-1of3 --clean
    # BP4D at 1/9 (2 train + 2 devel subjects x 8 tasks x 446 frames of 1040 x 1392), every stage:
    python benchmarks/rehearse_paper_scale.py --dataset bp4d --fraction 1/9 --until evaluation --scratch /work/scratch-scale/bp4d-1of9 --clean
    python benchmarks/rehearse_paper_scale.py --summarize benchmarks/records/rehearsal_*.json   # the tables again
    # the whole chain to Table 1 with real trainings of every fold (on a GPU machine, or tiny):
    python benchmarks/rehearse_paper_scale.py --dataset disfa --subjects 2 --frames 40 --frame-size 320 240 \
        --max-train-samples 16 --until table1 --scratch /tmp/rehearse-tiny --clean

Run it with the project's interpreter from the checkout (``PYTHONPATH=<checkout> .venv/bin/python``):
the workflow's jobs run the interpreter that runs Snakemake, which is this one. The measured record
(JSON) is written to ``--report`` (default: ``<scratch>.json``, beside the scratch folder), so
``--clean`` can delete the data and caches and leave the disk as it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from record import load, machine_facts  # noqa: E402  (the shared record of a measurement)

# The real datasets (their papers' subject lists; g2rl.datasets defaults).
DISFA_SUBJECTS = tuple(f"SN{n:03d}" for n in (*range(1, 14), 16, 17, 18, 21, *range(23, 33)))
DISFA_FRAMES = 4845
DISFA_SIZE = (1024, 768)  # W x H
BP4D_TRAIN = ("F001", "F003", "F005", "F007", "F009", "F011", "F013", "F015", "F017", "F019", "F021", "F023",
              "M001", "M003", "M005", "M007", "M009", "M011", "M013", "M015", "M017")
BP4D_DEVEL = ("F002", "F004", "F006", "F008", "F010", "F012", "F014", "F016", "F018", "F020", "F022",
              "M002", "M004", "M006", "M008", "M010", "M012", "M014", "M016", "M018")
BP4D_TASKS = tuple(f"T{i}" for i in range(1, 9))
# FERA 2015 intensity subset: ~75.6k train / ~71.3k devel labelled frames over 21 / 20 subjects x 8 tasks
BP4D_FRAMES = 446
BP4D_SIZE = (1040, 1392)  # W x H (portrait)
SIGMA, LAMBDA, SEED = 2, 0.05, 0
# What a GPU training consumes (docs/PERFORMANCE.md, "Paper-scale cost": an estimate, no GPU measured yet)
GPU_IMG_PER_S = (1000, 2500)


# -- sizes and config ---------------------------------------------------------------------------

def plan_sizes(dataset: str, fraction: Fraction, subjects: int | None = None, frames: int | None = None,
               frame_size: tuple[int, int] | None = None, tasks: int | None = None,
               test_subjects: int = 1) -> dict:
    """Subjects, frames and frame size of a rehearsal: ``fraction`` of the real dataset's subjects
    (at least test_subjects + 1), full-length sequences, real frame size, unless overridden.

    Returns {"subjects", "test", "train", "frames", "frame_size", "tasks", "total_frames"}; ``test`` are
    the test-side subjects (DISFA fold "1" / BP4D devel), ``train`` the rest.
    """
    if dataset == "disfa":
        n = subjects or max(test_subjects + 1, round(len(DISFA_SUBJECTS) * fraction))
        if n > len(DISFA_SUBJECTS):
            raise ValueError(f"DISFA has {len(DISFA_SUBJECTS)} subjects, asked for {n}")
        chosen = list(DISFA_SUBJECTS[:n])
        task_list: list[str] = []
        per_seq, size = frames or DISFA_FRAMES, frame_size or DISFA_SIZE
        total = n * per_seq
    elif dataset == "bp4d":
        if subjects:
            n_train, n_devel = subjects - subjects // 2, subjects // 2
        else:
            n_train = max(1, round(len(BP4D_TRAIN) * fraction))
            n_devel = max(1, round(len(BP4D_DEVEL) * fraction))
        if n_train > len(BP4D_TRAIN) or n_devel > len(BP4D_DEVEL):
            raise ValueError(f"BP4D has {len(BP4D_TRAIN)} + {len(BP4D_DEVEL)} subjects")
        # interleave, so the first test_subjects are devel subjects and the rest mixes both partitions
        chosen = list(BP4D_DEVEL[:n_devel]) + list(BP4D_TRAIN[:n_train])
        task_list = list(BP4D_TASKS[: (tasks or len(BP4D_TASKS))])
        per_seq, size = frames or BP4D_FRAMES, frame_size or BP4D_SIZE
        total = len(chosen) * len(task_list) * per_seq
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    if test_subjects < 1 or test_subjects >= len(chosen):
        raise ValueError(f"--test-subjects {test_subjects}: need 1 .. {len(chosen) - 1} with {len(chosen)} subjects")
    return {"subjects": chosen, "test": chosen[:test_subjects], "train": chosen[test_subjects:], "frames": per_seq,
            "frame_size": [int(size[0]), int(size[1])], "tasks": task_list, "total_frames": total}


def demo_command(python: str, dataset: str, sizes: dict, out: Path, workers: int) -> list[str]:
    """``g2rl demo-data`` writing only ``dataset``, at the planned sizes."""
    cmd = [python, "-m", "g2rl", "demo-data", "--out", str(out), "--workers", str(workers),
           "--frame-size", *map(str, sizes["frame_size"])]
    if dataset == "disfa":
        return cmd + ["--disfa-subjects", *sizes["subjects"], "--disfa-frames", str(sizes["frames"]),
                      "--bp4d-train", "none", "--bp4d-devel", "none"]
    return cmd + ["--disfa-subjects", "none", "--bp4d-train", *sizes["train"], "--bp4d-devel", *sizes["test"],
                  "--bp4d-tasks", *sizes["tasks"], "--bp4d-frames", str(sizes["frames"])]


def copy_data(src: Path, dst: Path, dataset: str, sizes: dict) -> dict:
    """Build the dataset tree of ``sizes`` from an earlier rehearsal's generated tree ``src`` (same dataset,
    frames per sequence and frame size): subject i gets a byte copy of source subject i mod n, renamed.
    Separate copies, not links, so no file shares another's page cache. Returns {new subject: source subject}.

    Rendering is the slowest step on 2 cores and is not part of the pipeline; every later stage costs the
    same per frame whatever the faces show, so a larger rehearsal can reuse a smaller one's sequences.
    """
    summary = json.loads((src / "demo_summary.json").read_text())
    part = summary[dataset]
    have_frames = part["frames_per_video"] if dataset == "disfa" else part["frames_per_sequence"]
    if have_frames != sizes["frames"] or summary["frame_size"] != sizes["frame_size"]:
        raise SystemExit(f"{src}: {have_frames} frames of {summary['frame_size']} per sequence, this rehearsal "
                         f"needs {sizes['frames']} of {sizes['frame_size']}")
    tmp = dst.with_name(dst.name + ".copying")
    shutil.rmtree(tmp, ignore_errors=True)
    if dataset == "disfa":
        sources = part["subjects"]
        mapping = {s: sources[i % len(sources)] for i, s in enumerate(sizes["subjects"])}
        for new, old in mapping.items():
            vid = tmp / "DISFA" / "Videos_LeftCamera"
            vid.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / "DISFA" / "Videos_LeftCamera" / f"LeftVideo{old}_comp.avi", vid / f"LeftVideo{new}_comp.avi")
            lab = tmp / "DISFA" / "ActionUnit_Labels" / new
            lab.mkdir(parents=True)
            for f in (src / "DISFA" / "ActionUnit_Labels" / old).iterdir():
                shutil.copyfile(f, lab / f.name.replace(old, new))
    else:
        sources = part["devel"] + part["train"]
        if set(part["tasks"]) < set(sizes["tasks"]):
            raise SystemExit(f"{src}: tasks {part['tasks']}, this rehearsal needs {sizes['tasks']}")
        mapping = {s: sources[i % len(sources)] for i, s in enumerate(sizes["subjects"])}
        for new, old in mapping.items():
            for task in sizes["tasks"]:
                shutil.copytree(src / "BP4D" / "Sequences" / old / task, tmp / "BP4D" / "Sequences" / new / task)
                for au_dir in (src / "BP4D" / "AUCoding" / "AU_INT").iterdir():
                    out = tmp / "BP4D" / "AUCoding" / "AU_INT" / au_dir.name
                    out.mkdir(parents=True, exist_ok=True)
                    name = f"{old}_{task}_{au_dir.name}.csv"
                    shutil.copyfile(au_dir / name, out / name.replace(old, new, 1))
    (tmp / "demo_summary.json").write_text(json.dumps({**summary, "copied_from": str(src), "subject_sources": mapping},
                                                      indent=1))
    os.replace(tmp, dst)
    return mapping


def rehearsal_config(dataset: str, data_root: str, sizes: dict, max_train_samples: int, epochs: int = 1,
                     batch_size: int = 16, threads: int = 2, num_workers: int = 2) -> dict:
    """The workflow config: the paper config of ``dataset`` (config/<dataset>.yaml), with

    the generated root and the rehearsal's test / train split; one sigma and lambda (Table 1's), one seed,
    no sweeps, no ablation; a bounded CPU training slice (``max_train_samples`` random frames per epoch,
    ``epochs``) from random weights (no download here). Everything else (crop 256, pairs / per_point
    heatmaps, ResNet-50 + 256 x 3) stays the paper's.
    """
    import yaml

    cfg = yaml.safe_load((REPO / "config" / f"{dataset}.yaml").read_text())
    cfg["results"] = "results"
    cfg["data_label"] = "demo"
    cfg["datasets"] = [dataset]
    if dataset == "disfa":
        cfg["disfa"] = {**cfg.get("disfa", {}), "root": data_root, "folds": {"1": sizes["test"], "2": sizes["train"]}}
    else:
        cfg["bp4d"] = {**cfg.get("bp4d", {}), "root": data_root,
                       "partitions": {"train": sizes["train"], "devel": sizes["test"]}}
    cfg["model"] = {**cfg.get("model", {}), "pretrained": None, "allow_random_init": True}
    cfg["train"] = {**cfg.get("train", {}), "epochs": epochs, "lr_step_epochs": [], "batch_size": batch_size,
                    "threads": threads, "num_workers": num_workers, "max_train_samples": max_train_samples,
                    "gpus": 0}
    cfg["experiments"] = {**cfg.get("experiments", {}), "sigma": SIGMA, "lambda": LAMBDA, "seeds": [SEED],
                          "sweep_seeds": None, "sigma_sweep": [], "lambda_sweep": [],
                          "ablation": {"variants": {}}}
    return cfg


def targets(config: dict, dataset: str, test_fold: str) -> dict[str, list[str]]:
    """Snakemake targets of each measured invocation, in order (paths relative to the workdir)."""
    from g2rl.config import lambda_label, sigma_label, validate
    from g2rl.model.variants import heatmap_cache

    cfg = validate(config, check_roots=False)
    res, s, lam = cfg["results"], sigma_label(SIGMA), lambda_label(LAMBDA)
    run = f"{res}/{dataset}/runs/g2rl/sigma{s}/lambda{lam}/seed{SEED}/fold{test_fold}"
    return {
        "frame_index": [f"{res}/{dataset}/frame_index.csv"],
        "landmarks+crops": [f"{res}/{dataset}/cache/crops.h5"],
        "heatmaps": [heatmap_cache(cfg, dataset, "g2rl", s)],
        "train": [f"{run}/predictions.csv"],
        "table1": [f"{res}/tables/table1_{dataset}.csv"],
    }


EVAL_RESULTS = "results-evaluation"  # the evaluation stage's own results folder in the workdir
EVAL_RULES = ("evaluate", "evidence", "table1", "g2rl_vs_baseline")


def evaluation_config(config: dict, dataset: str) -> dict:
    """The evaluation stage's config: the rehearsal's, with its own results folder and Table 1's seeds and
    bootstrap as in the paper config (config/<dataset>.yaml), so evaluate, evidence and Table 1 do the
    paper's amount of work on predictions of the rehearsal's size."""
    import copy

    import yaml

    paper = yaml.safe_load((REPO / "config" / f"{dataset}.yaml").read_text()).get("experiments", {})
    cfg = copy.deepcopy(config)
    cfg["results"] = EVAL_RESULTS
    cfg["experiments"]["seeds"] = list(paper.get("seeds", [SEED]))
    if "bootstrap" in paper:
        cfg["experiments"]["bootstrap"] = paper["bootstrap"]
    return cfg


def evaluation_runs(config: dict, dataset: str) -> list[tuple[str, int, str, str]]:
    """(method, seed, fold, run folder relative to the workdir) of every prediction Table 1 reads:
    Baseline (lambda 0) and G2RL (Table 1's lambda) x Table 1's seeds x the dataset's test folds."""
    from g2rl.config import lambda_label, sigma_label

    res, s = config["results"], sigma_label(SIGMA)
    folds = list(config["disfa"]["folds"]) if dataset == "disfa" else ["devel"]
    runs = []
    for method, lam in (("baseline", lambda_label(0)), ("g2rl", lambda_label(LAMBDA))):
        for seed in config["experiments"]["seeds"]:
            for fold in folds:
                runs.append((method, int(seed), fold, f"{res}/{dataset}/runs/{method}/sigma{s}/lambda{lam}/seed{seed}/fold{fold}"))
    return runs


def write_synthetic_predictions(crops: Path, runs: list[tuple[str, int, str, str]], workdir: Path) -> dict:
    """Write, for every run, the files ``g2rl train`` leaves that evaluation reads (predictions.csv over
    the fold's test rows of the crops cache, diagnostics.json), made WITHOUT a network: predicted
    intensity = clip(0.8 x label + noise, 0, 5) (unlabelled frames: noise around 0), noise sd 0.8 for the
    Baseline and 0.7 for G2RL, drawn per (method, seed, fold). Real keys, labels and sizes; invented
    predictions, so only the cost of evaluate / evidence / Table 1 is measured here, not any result.
    Returns {"files": n, "rows": total predicted rows, "disk_mb"}."""
    import numpy as np

    from g2rl.preprocess.h5read import open_h5
    from g2rl.preprocess.batches import read_cache_attrs, read_cache_keys
    from g2rl.training.diagnostics import write_diagnostics
    from g2rl.training.predictions import predictions_frame, write_predictions

    keys = read_cache_keys(crops)
    aus = list(read_cache_attrs(crops)["aus"])
    with open_h5(crops) as f:
        labels = f["intensities"][...].astype(np.float32)
    reason = "synthetic predictions (benchmarks/rehearse_paper_scale.py): no network, no geometry branch"
    rows_total = 0
    for i, (method, seed, fold, run) in enumerate(runs):
        rows = np.flatnonzero(keys["split"].to_numpy() == fold)
        if len(rows) == 0:
            raise SystemExit(f"{crops}: no rows of test fold {fold!r}")
        true = labels[rows]
        rng = np.random.default_rng([seed, i])
        noise = rng.normal(0.0, 0.7 if method == "g2rl" else 0.8, size=true.shape)
        pred = np.clip(0.8 * np.nan_to_num(true, nan=0.0) + noise, 0.0, 5.0).astype(np.float32)
        out = workdir / run
        out.mkdir(parents=True, exist_ok=True)
        write_predictions(out / "predictions.csv", predictions_frame(keys, rows, aus, pred, true))
        write_diagnostics(out / "diagnostics.json", method, {"available": False, "reason": reason}, {})
        rows_total += len(rows)
    return {"files": len(runs), "rows": rows_total, "disk_mb": du_mb(workdir / EVAL_RESULTS)}


# -- measuring ------------------------------------------------------------------------------------

def run_measured(cmd: list[str], log_path: Path, env: dict | None = None, cwd: str | None = None) -> dict:
    """Run ``cmd``; wall s, CPU s (user + sys of it and its waited-for children) and peak RSS (MB, the
    largest of the process tree's members, ru_maxrss) via wait4. Raises on a non-zero exit."""
    before = load()
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n--- {log_path} (tail) ---\n{tail}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "max_rss_mb": ru.ru_maxrss / 1024,
            "load_before": before, "load_after": load()}


def parse_benchmark(path: str | Path) -> dict:
    """One Snakemake ``benchmark:`` TSV (header + one row per repeat) -> its first row as floats
    (``s``, ``max_rss`` MB, ``cpu_time`` s, ``io_in``/``io_out`` MB, ``mean_load``, ...; '-' or NA -> None)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: empty benchmark record")
    out = {}
    for key, value in rows[0].items():
        if key == "h:m:s":
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = None
    return out


def sum_benchmarks(paths: list[Path]) -> dict:
    """Several jobs of one rule: summed wall and CPU seconds, the largest peak RSS, the job count."""
    recs = [parse_benchmark(p) for p in paths]
    return {"jobs": len(recs), "s": sum(r.get("s") or 0 for r in recs),
            "cpu_time": sum(r.get("cpu_time") or 0 for r in recs),
            "max_rss": max((r.get("max_rss") or 0 for r in recs), default=0.0),
            "max_s": max((r.get("s") or 0 for r in recs), default=0.0)}


def du_mb(path: Path) -> float:
    """Disk used (allocated blocks) under ``path``, MB."""
    if not path.exists():
        return 0.0
    if path.is_file():
        return path.stat().st_blocks * 512 / 1e6
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 1e6


def drop_page_cache() -> bool:
    """Flush and drop the page cache (needs root); False where not allowed."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def measure_reads(crops: Path, heatmaps: Path, samples: int, workers: int, batch_size: int, seed: int = 0,
                  drop: bool = True) -> dict:
    """Random-access read rate of the training loader over the whole cache: ``samples`` rows drawn
    uniformly from all rows, in whole batches (g2rl.preprocess.batches through g2rl.training.feed's
    BatchFeed; ``workers`` processes, ``batch_size``), cold (page cache dropped first, when allowed).
    Worker start-up included."""
    import numpy as np

    from g2rl.preprocess.batches import open_cache_rows, read_cache_attrs
    from g2rl.training.feed import BatchFeed

    n = int(read_cache_attrs(crops)["n_frames"])
    dropped = drop and drop_page_cache()
    rows = open_cache_rows(crops, heatmaps, sigma=float(SIGMA), in_memory="off")
    rng = np.random.default_rng(seed)
    order = rng.choice(n, size=min(samples, n), replace=False)
    t0, c0 = time.perf_counter(), time.process_time()
    got = 0
    feed = BatchFeed(rows, batch_size, workers)
    for batch in feed.epoch(order):
        got += int(batch["image"].shape[0])
    feed.close()
    wall = time.perf_counter() - t0
    bytes_per = rows.nbytes_large() / max(1, len(rows))
    return {"samples": got, "rows_in_cache": n, "workers": workers, "batch_size": batch_size, "cold": dropped,
            "wall_s": wall, "samples_per_s": got / wall, "mb_per_s": got * bytes_per / wall / 1e6,
            "main_cpu_s": time.process_time() - c0, "load_after": load()}


def tile_cache(crops: Path, heatmaps: Path, k: int, out_dir: Path, block: int = 512) -> tuple[Path, Path]:
    """A ``k`` times larger copy of a crops + heatmaps cache (every dataset repeated ``k`` times along the
    rows, same chunking and compression, attributes kept, ``n_frames`` scaled), so the loader can be
    measured on a cache larger than RAM without rendering, aligning and landmarking ``k`` times more
    frames. Only for read measurements: the rows repeat."""
    import h5py

    from g2rl.preprocess.h5read import DIGEST_ATTR
    from g2rl.preprocess.h5write import write_content_digests

    out_dir.mkdir(parents=True, exist_ok=True)
    outs = []
    for src in (crops, heatmaps):
        dst = out_dir / src.name
        with h5py.File(src, "r") as fi, h5py.File(dst, "w") as fo:
            n = int(fi.attrs["n_frames"])
            for name, ds in fi.items():
                out = fo.create_dataset(name, (n * k, *ds.shape[1:]), ds.dtype, chunks=ds.chunks,
                                        compression=ds.compression, compression_opts=ds.compression_opts,
                                        fletcher32=ds.fletcher32)
                for a in range(0, n, block):
                    b = min(n, a + block)
                    data = ds[a:b]
                    for r in range(k):
                        out[r * n + a:r * n + b] = data
            fo.attrs.update(dict(fi.attrs))
            fo.attrs["n_frames"] = n * k
            if DIGEST_ATTR in fi.attrs:  # the tiled datasets have other content: digests of their own
                write_content_digests(fo, json.loads(fi.attrs[DIGEST_ATTR]), dst)
        outs.append(dst)
    return outs[0], outs[1]


# -- the table ------------------------------------------------------------------------------------

def stage_rows(record: dict) -> list[dict]:
    """One row per stage from a rehearsal record: stage, jobs, frames, wall s, CPU s, peak RSS MB,
    disk MB (None where a figure does not apply)."""
    st = record["stages"]
    rows = []
    for name in ("demo_data", "copy_data", "frame_index", "landmarks", "crop_cache", "heatmap_cache", "train",
                 "synthetic_predictions", "evaluate", "evidence", "table1_report", "table1"):
        s = st.get(name)
        if s is not None:
            rows.append({"stage": name, "jobs": s.get("jobs", 1), "frames": s.get("frames"), "wall_s": s.get("wall_s"),
                         "cpu_s": s.get("cpu_s"), "max_rss_mb": s.get("max_rss_mb"), "disk_mb": s.get("disk_mb")})
    return rows


def _fmt(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_table(record: dict) -> str:
    """Markdown: settings line, per-stage table (with seconds per 1,000 frames), loader read rate."""
    sz, m = record["sizes"], record["machine"]
    lines = [
        f"{record['dataset']} at {record['fraction']}: {len(sz['subjects'])} subjects"
        + (f" x {len(sz['tasks'])} tasks" if sz["tasks"] else "")
        + f" x {sz['frames']} frames = {sz['total_frames']:,} frames of {sz['frame_size'][0]} x {sz['frame_size'][1]};"
        f" test side {', '.join(sz['test'])}; crop 256, sigma {SIGMA}, ResNet-50 + 256 x 3, "
        f"{record['settings']['max_train_samples']} random training frames x {record['settings']['epochs']} epoch, "
        f"batch {record['settings']['batch_size']}, {record['settings']['threads']} threads, "
        f"{record['settings']['num_workers']} loader workers",
        f"machine: {m.get('Model name', '?')}, {m.get('nproc')} cores, {m.get('mem_gib')} GiB, bf16 {m.get('bf16')}; "
        f"commit {m.get('commit')}{' (dirty)' if m.get('dirty') else ''}; started {record['started']}, "
        f"load at start {record['load_start']}",
        "",
        "| stage | jobs | frames | wall s | CPU s | peak RSS MB | disk MB | wall s per 1k frames |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in stage_rows(record):
        per_k = (r["wall_s"] / r["frames"] * 1000) if r["frames"] and r["wall_s"] is not None else None
        lines.append(f"| {r['stage']} | {_fmt(r['jobs'])} | {_fmt(r['frames'])} | {_fmt(r['wall_s'], 1)} | "
                     f"{_fmt(r['cpu_s'], 1)} | {_fmt(r['max_rss_mb'])} | {_fmt(r['disk_mb'])} | {_fmt(per_k, 2)} |")
    t = record["stages"].get("train", {})
    if t.get("images_per_s") is not None:
        lines.append(f"\ntraining slice: {t['images']} images at {t['images_per_s']:.2f} img/s, data wait "
                     f"{100 * t['data_wait_share']:.1f} % of the epoch ({t['epoch_s']:.0f} s); {t['n_train']:,} "
                     f"training rows in the cache, {t['n_test']:,} test frames predicted in the rest of the job")
    rd = record.get("reads")
    if rd:
        lo, hi = GPU_IMG_PER_S
        lines.append(f"loader, random rows over the whole cache ({rd['rows_in_cache']:,} rows, "
                     f"{'cold: page cache dropped' if rd['cold'] else 'page cache NOT dropped'}), {rd['workers']} workers, "
                     f"batch {rd['batch_size']}: {rd['samples']:,} samples in {rd['wall_s']:.1f} s = "
                     f"**{rd['samples_per_s']:.0f} samples/s** ({rd['mb_per_s']:.0f} MB/s as stored) against "
                     f"{lo:,}-{hi:,} img/s a GPU training would consume (estimate)")
    rt = record.get("reads_tiled")
    if rt:
        lines.append(f"the same on the cache tiled {rt['k']} x ({rt['rows_in_cache']:,} rows, {rt['disk_mb'] / 1e3:.1f} GB, "
                     f"{'cold' if rt['cold'] else 'page cache NOT dropped'}): {rt['samples']:,} samples in "
                     f"{rt['wall_s']:.1f} s = **{rt['samples_per_s']:.0f} samples/s** ({rt['mb_per_s']:.0f} MB/s)")
    return "\n".join(lines)


def scaling_table(records: list[dict]) -> str:
    """Markdown: per stage and rehearsal, wall / CPU seconds per 1,000 frames and peak RSS, so growth that is
    not linear in frames (or memory that grows with them) shows as a changing column."""
    head = "| stage | " + " | ".join(f"{r['dataset']} {r['fraction']} ({r['sizes']['total_frames']:,} frames)"
                                     for r in records) + " |"
    lines = [head, "|---|" + "---:|" * len(records)]
    names = [n for n in ("demo_data", "landmarks", "crop_cache", "heatmap_cache", "train")
             if any(n in r["stages"] for r in records)]
    for name in names:
        cells = []
        for r in records:
            s = r["stages"].get(name)
            if not s or not s.get("frames"):
                cells.append("–")
                continue
            k = s["frames"] / 1000
            cells.append(f"{s['wall_s'] / k:.2f} / {(s.get('cpu_s') or 0) / k:.2f} s, {_fmt(s.get('max_rss_mb'))} MB")
        lines.append(f"| {name} (wall / CPU s per 1k frames, peak RSS) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def snakemake_command(snakemake: list[str], configfile: Path, allowed_rules: tuple[str, ...] = ()) -> list[str]:
    """``snakemake`` (the command with its --snakefile, --directory and --cores) with ``configfile`` and, if
    given, ``--allowed-rules``, ending in "--" so that the targets appended after it are targets: --configfile
    and --allowed-rules take several values and would swallow them."""
    return [*snakemake, "--configfile", str(configfile), *(["--allowed-rules", *allowed_rules] if allowed_rules else []),
            "--"]


def measure_evaluation(config: dict, dataset: str, crops: Path, work: Path, scratch: Path, snakemake: list[str],
                       logs: Path, env: dict) -> dict:
    """Write synthetic predictions of every test frame for Table 1's runs (:func:`write_synthetic_predictions`),
    then run the workflow's evaluate, evidence, Table 1 and G2RL-vs-Baseline rules on them (``--allowed-rules``:
    nothing else may run, so the predictions stand in for the trainings). ``snakemake``: the command up to its
    ``--configfile`` (this stage gives its own). Returns the stages
    ``synthetic_predictions``, ``evaluate``, ``evidence`` and ``table1_report`` (per-rule ``benchmark:`` records)."""
    import yaml

    ecfg = evaluation_config(config, dataset)
    ecfg_path = scratch / "rehearsal-evaluation.yaml"
    ecfg_path.write_text(yaml.safe_dump(ecfg, sort_keys=False))
    runs = evaluation_runs(ecfg, dataset)
    t0 = time.perf_counter()
    made = write_synthetic_predictions(crops, runs, work)
    made["wall_s"] = time.perf_counter() - t0
    cmd = snakemake_command(snakemake, ecfg_path, EVAL_RULES) + [
        f"{EVAL_RESULTS}/tables/table1_{dataset}.csv", f"{EVAL_RESULTS}/tables/g2rl_vs_baseline_{dataset}.csv"]
    inv = run_measured(cmd, logs / "snakemake_evaluation.log", env)
    bench = work / EVAL_RESULTS / "benchmarks" / dataset
    per_job = made["rows"] // len({(m, s) for m, s, _, _ in runs})  # rows each evaluate job reads (its folds)
    out = {"synthetic_predictions": {**made, "frames": made["rows"], "jobs": made["files"],
                                     "note": "written by the script, not a network (only evaluation's cost)"}}
    for name, paths in (("evaluate", sorted((bench / "evaluate").glob("*.tsv"))), ("evidence", [bench / "evidence.tsv"]),
                        ("table1_report", [bench / "table1.tsv"])):
        b = sum_benchmarks(paths)
        out[name] = {"jobs": b["jobs"], "frames": per_job, "wall_s": b["s"], "cpu_s": b["cpu_time"],
                     "max_rss_mb": b["max_rss"], "job_s_max": b["max_s"]}
    out["evaluate"]["disk_mb"] = du_mb(work / EVAL_RESULTS / "tables")
    out["evaluation_invocation"] = {**inv, "seeds": ecfg["experiments"]["seeds"],
                                    "resamples": ecfg["experiments"].get("bootstrap", {}).get("resamples", 1000)}
    return out


# -- main -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("disfa", "bp4d"), default="disfa")
    p.add_argument("--fraction", default="1/9", help="share of the real dataset's subjects (1/9, 1/3, 1)")
    p.add_argument("--subjects", type=int, default=None, help="subject count instead of --fraction (tiny runs)")
    p.add_argument("--frames", type=int, default=None, help="frames per video / sequence (default: the real length)")
    p.add_argument("--tasks", type=int, default=None, help="BP4D tasks per subject (default 8)")
    p.add_argument("--frame-size", type=int, nargs=2, default=None, metavar=("W", "H"), help="default: the real size")
    p.add_argument("--test-subjects", type=int, default=1, help="subjects on the test side (predicted on the CPU)")
    p.add_argument("--max-train-samples", type=int, default=256, help="random training frames per epoch")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training job")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader workers of the training job")
    p.add_argument("--cores", type=int, default=2, help="snakemake --cores")
    p.add_argument("--until", choices=("caches", "train", "evaluation", "table1"), default="train",
                   help="caches: landmarks, crops and heatmaps only; train: + one G2RL training slice on the test "
                        "side; evaluation: + evaluate, evidence and Table 1 (the workflow's rules) on synthetic "
                        "predictions of every frame (Table 1's seeds, no network: their cost, not a result); "
                        "table1: every fold trained and predicted, evaluation, Table 1")
    p.add_argument("--read-samples", type=int, default=2000, help="rows read in the loader measurement (0 = skip)")
    p.add_argument("--read-workers", type=int, default=2)
    p.add_argument("--no-drop-caches", action="store_true", help="do not drop the page cache before the read test")
    p.add_argument("--tile-reads", type=int, default=0, metavar="K",
                   help="also measure reads on a K times tiled copy of the cache (larger than RAM without K x the work)")
    p.add_argument("--copy-data-from", type=Path, default=None, metavar="DATA",
                   help="build the data from an earlier rehearsal's <scratch>/data (same dataset, sequence length "
                        "and frame size; copies, renamed) instead of rendering it again")
    p.add_argument("--scratch", type=Path, help="folder for the data, caches and runs (outside the repo)")
    p.add_argument("--report", type=Path, default=None, help="JSON record (default: <scratch>.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted or shorter rehearsal of the same size: keep the record's measured "
                        "stages, run only what it lacks (e.g. --until evaluation after --until train)")
    p.add_argument("--clean", action="store_true", help="delete --scratch at the end (the record is kept)")
    p.add_argument("--python", default=sys.executable, help="interpreter for g2rl and Snakemake")
    p.add_argument("--summarize", nargs="+", type=Path, default=None, metavar="JSON",
                   help="print the tables of earlier records (and how they scale) instead of running")
    args = p.parse_args(argv)
    if args.summarize:
        records = [json.loads(f.read_text()) for f in args.summarize]
        for r in records:
            print(format_table(r) + "\n")
        print(scaling_table(records))
        return 0

    if args.scratch is None:
        p.error("--scratch is required (unless --summarize)")
    fraction = Fraction(args.fraction)
    sizes = plan_sizes(args.dataset, fraction, args.subjects, args.frames,
                       tuple(args.frame_size) if args.frame_size else None, args.tasks, args.test_subjects)
    scratch = args.scratch.resolve()
    if REPO in scratch.parents or scratch == REPO:
        raise SystemExit(f"--scratch {scratch} is inside the repository; put large data outside it")
    report = (args.report or scratch.with_name(scratch.name + ".json")).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    logs, work, data = scratch / "logs", scratch / "work", scratch / "data"
    logs.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    free_gb = shutil.disk_usage(scratch).free / 1e9
    record = {"dataset": args.dataset, "fraction": str(fraction) if not args.subjects else f"{args.subjects} subjects",
              "sizes": sizes, "machine": machine_facts(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_start": load(), "free_disk_gb_start": round(free_gb, 1), "command": " ".join(sys.argv),
              "settings": {k: getattr(args, k) for k in ("max_train_samples", "epochs", "batch_size", "threads",
                                                         "num_workers", "cores", "until", "test_subjects")},
              "stages": {}}
    if args.resume and report.is_file():
        previous = json.loads(report.read_text())
        if previous.get("sizes") != sizes or previous.get("dataset") != args.dataset:
            raise SystemExit(f"--resume: {report} records another rehearsal ({previous.get('dataset')}, "
                             f"{previous.get('sizes', {}).get('total_frames')} frames)")
        resumed = {k: record[k] for k in ("started", "load_start", "command", "settings")}
        resumed["commit"] = record["machine"].get("commit")
        record = {**previous, "resumed": [*previous.get("resumed", []), resumed]}
        record["settings"]["until"] = args.until
    st = record["stages"]

    def save():
        report.write_text(json.dumps(record, indent=1, default=str))

    print(f"rehearsal: {args.dataset} {record['fraction']}: {sizes['total_frames']:,} frames of "
          f"{sizes['frame_size'][0]}x{sizes['frame_size'][1]}; {free_gb:.0f} GB free; record -> {report}", flush=True)

    # 1. the data (the generator is not a workflow rule here: its rule has no size options)
    root = data / ("DISFA" if args.dataset == "disfa" else "BP4D")
    if not (data / "demo_summary.json").is_file() and args.copy_data_from:
        t0 = time.perf_counter()
        copy_data(args.copy_data_from.resolve(), data, args.dataset, sizes)
        st["copy_data"] = {"wall_s": time.perf_counter() - t0, "frames": sizes["total_frames"], "disk_mb": du_mb(data),
                           "note": f"copied from {args.copy_data_from} (not rendered)"}
        save()
    if not (data / "demo_summary.json").is_file():
        m = run_measured(demo_command(args.python, args.dataset, sizes, data, args.cores), logs / "demo_data.log", env)
        st["demo_data"] = {**m, "frames": sizes["total_frames"], "disk_mb": du_mb(data)}
        save()
        print(f"demo_data: {m['wall_s']:.0f} s", flush=True)

    # 2. the workflow, one invocation per stage so each has its own wall time
    config = rehearsal_config(args.dataset, str(root), sizes, args.max_train_samples, args.epochs, args.batch_size,
                              args.threads, args.num_workers)
    cfg_path = scratch / "rehearsal.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    test_fold = "1" if args.dataset == "disfa" else "devel"
    tg = targets(config, args.dataset, test_fold)
    snakemake = [args.python, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
                 "--cores", str(args.cores)]
    smk = snakemake_command(snakemake, cfg_path)
    steps = ["frame_index", "landmarks+crops", "heatmaps"] + {"caches": [], "train": ["train"], "evaluation": ["train"],
                                                               "table1": ["train", "table1"]}[args.until]
    invocations = record.setdefault("snakemake", {})
    for step in steps:
        if step in invocations:  # --resume: measured before
            continue
        print(f"snakemake {step} ...", flush=True)
        invocations[step] = run_measured(smk + tg[step], logs / f"snakemake_{step}.log", env)
        record["snakemake"] = invocations
        save()
        print(f"  {invocations[step]['wall_s']:.0f} s", flush=True)

    res = work / "results"
    bench = res / "benchmarks" / args.dataset
    import pandas as pd

    n_index = len(pd.read_csv(work / tg["frame_index"][0], usecols=["subject"]))
    st["frame_index"] = {**invocations["frame_index"], "frames": n_index,
                         "disk_mb": du_mb(work / tg["frame_index"][0]), "note": "the Snakemake invocation (no benchmark record)"}
    lm = sum_benchmarks(sorted((bench / "landmarks").glob("*.tsv")))
    st["landmarks"] = {"jobs": lm["jobs"], "frames": n_index, "wall_s": invocations["landmarks+crops"]["wall_s"]
                       - parse_benchmark(bench / "crop_cache.tsv")["s"], "job_s_sum": lm["s"], "job_s_max": lm["max_s"],
                       "cpu_s": lm["cpu_time"], "max_rss_mb": lm["max_rss"], "disk_mb": du_mb(res / args.dataset / "landmarks")}
    import h5py

    crops = work / tg["landmarks+crops"][0]
    with h5py.File(crops, "r") as f:
        n_crops = int(f.attrs["n_frames"])
    cb = parse_benchmark(bench / "crop_cache.tsv")
    st["crop_cache"] = {"frames": n_crops, "wall_s": cb["s"], "cpu_s": cb["cpu_time"], "max_rss_mb": cb["max_rss"],
                        "disk_mb": du_mb(crops)}
    heat = work / tg["heatmaps"][0]
    hb = parse_benchmark(bench / f"heatmap_cache_sigma{SIGMA}.tsv")
    st["heatmap_cache"] = {"frames": n_crops, "wall_s": hb["s"], "cpu_s": hb["cpu_time"], "max_rss_mb": hb["max_rss"],
                           "disk_mb": du_mb(heat)}
    save()

    if args.until != "caches":
        pred = work / tg["train"][0]
        # the measured slice's own record (with --until table1 the other folds' and the Baseline's follow)
        tb = sum_benchmarks([bench / "train" / (pred.parent.relative_to(res / args.dataset / "runs").as_posix()
                                                .replace("/", "_") + ".tsv")])
        tlog = pd.read_csv(pred.parent / "train_log.csv").iloc[-1]
        n_test = len(pd.read_csv(pred, usecols=[0]))
        st["train"] = {"jobs": tb["jobs"], "frames": n_crops, "wall_s": tb["s"], "cpu_s": tb["cpu_time"],
                       "max_rss_mb": tb["max_rss"], "disk_mb": du_mb(pred.parent), "images": int(tlog["images"]),
                       "images_per_s": float(tlog["images_per_s"]), "data_wait_share": float(tlog["data_wait_share"]),
                       "epoch_s": float(tlog["seconds"]), "n_test": n_test, "n_train": n_crops - n_test}
    if "table1" in invocations:
        st["table1"] = {**invocations["table1"], "jobs": len(list((bench / "train").glob("*.tsv"))) - 1,
                        "frames": n_crops, "disk_mb": du_mb(res / "tables"),
                        "note": "evaluate + Table 1 and the other folds' trainings it needs (the Snakemake invocation)"}
    save()

    # 3. the loader's random-access read rate over the whole cache, cold
    if args.read_samples > 0 and "reads" not in record:
        print("loader read rate ...", flush=True)
        record["reads"] = measure_reads(crops, heat, args.read_samples, args.read_workers, args.batch_size,
                                        drop=not args.no_drop_caches)
        save()
    if args.tile_reads > 1:
        print(f"tiling the cache {args.tile_reads} x ...", flush=True)
        t0 = time.perf_counter()
        big_crops, big_heat = tile_cache(crops, heat, args.tile_reads, scratch / "tiled")
        tiled = {"k": args.tile_reads, "build_s": time.perf_counter() - t0,
                 "disk_mb": du_mb(big_crops) + du_mb(big_heat)}
        tiled.update(measure_reads(big_crops, big_heat, args.read_samples, args.read_workers, args.batch_size,
                                   drop=not args.no_drop_caches))
        record["reads_tiled"] = tiled
        shutil.rmtree(scratch / "tiled")
    # 4. evaluation at size: the workflow's evaluate, evidence and Table 1 rules on synthetic predictions
    if args.until == "evaluation" and "evaluate" not in st:
        print("evaluation on synthetic predictions ...", flush=True)
        st.update(measure_evaluation(config, args.dataset, crops, work, scratch, snakemake, logs, env))
        save()
    record["free_disk_gb_end"] = round(shutil.disk_usage(scratch).free / 1e9, 1)
    record["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    save()
    print(format_table(record), flush=True)
    if args.clean:
        shutil.rmtree(scratch)
        print(f"deleted {scratch}; the record is {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
