"""Seconds per demo training job and the ICC it reaches, for candidate demo settings.

    # once: the demo caches (about a minute)
    snakemake --cores 2 results/disfa/cache/heatmaps_sigma2.h5 results/bp4d/cache/heatmaps_sigma2.h5
    python benchmarks/bench_demo_train.py --variants batch_size=16 batch_size=32 --threads 1

Each variant is a list of TrainSettings overrides on top of config/config.yaml's model and train
sections (``key=value,key=value``; a ModelConfig field goes into the model, a tuple is written with x:
``deconv_channels=64x64``). For every variant, dataset and method it trains the demo's jobs
(DISFA: one per fold, pooled for the ICC as Table 1 does; BP4D: the devel partition) one after the
other with ``--threads`` torch threads, and prints seconds per job (wall, and CPU time of this process,
which other jobs on a shared machine barely change: with one thread it is the job's own cost) and the
average ICC / MAE over AUs. ``--record NAME`` writes benchmarks/records/NAME.json, with where the g2rl
code came from (so a run of an older commit's code can be compared). Variants are interleaved job by job (A, B, A, B, ...), so machine load shifts both alike.
Run it twice side by side to see two jobs per core pair, as the demo runs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402

from g2rl.config import load_config
from g2rl.model.config import ModelConfig
from g2rl.reports.evaluate import evaluate_runs
from g2rl.training.loop import train_fold
from g2rl.training.settings import TrainSettings


def parse_variant(text: str) -> dict:
    out = {}
    for part in filter(None, text.split(",")):
        key, value = part.split("=", 1)
        if "x" in value and value.replace("x", "").isdigit():
            out[key] = tuple(int(v) for v in value.split("x"))
            continue
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def demo_settings(config: dict, method: str, overrides: dict) -> TrainSettings:
    """TrainSettings as the workflow's train rule builds them from the config (plus overrides)."""
    from g2rl.training.from_config import train_settings_from_config

    s = train_settings_from_config(config, method)
    model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
    model = s.model.replace(**{k: v for k, v in overrides.items() if k in model_keys})
    return s.replace(model=model, **{k: v for k, v in overrides.items() if k not in model_keys})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--results", default="results", help="folder holding {dataset}/cache/")
    ap.add_argument("--variants", nargs="+", default=["batch_size=16"])
    ap.add_argument("--datasets", nargs="+", default=["disfa", "bp4d"])
    ap.add_argument("--methods", nargs="+", default=["baseline", "g2rl"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--record", help="write benchmarks/records/RECORD.json")
    ap.add_argument("--label", help="what code this is, for the record (e.g. the commit it was run from)")
    args = ap.parse_args()
    import g2rl

    rec = Record("bench_demo_train", {**vars(args), "g2rl_code": str(Path(g2rl.__file__).parent)})
    torch.set_num_threads(args.threads)
    logging.getLogger("g2rl.model.backbone").setLevel(logging.ERROR)
    config = load_config(args.config)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_demo_train_"))
    jobs = []
    for ds in args.datasets:
        folds = list(config["disfa"]["folds"]) if ds == "disfa" else ["devel"]
        for method in args.methods:
            for fold in folds:
                for v in args.variants:
                    jobs.append((ds, method, fold, v))
    seconds, cpu, preds = defaultdict(list), defaultdict(list), defaultdict(list)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, {len(jobs)} jobs, runs in {out}", flush=True)
    for ds, method, fold, v in jobs:
        settings = demo_settings(config, method, parse_variant(v))
        sigma = config["experiments"]["sigma"]
        cache = Path(args.results) / ds / "cache"
        run_dir = out / v.replace("=", "").replace(",", "_") / ds / method / f"fold{fold}"
        t0, c0 = time.perf_counter(), time.process_time()
        train_fold(cache / "crops.h5", cache / f"heatmaps_sigma{sigma:g}.h5", fold, run_dir, settings, args.seed, "cpu")
        sec, cpu_s = time.perf_counter() - t0, time.process_time() - c0
        seconds[(v, ds, method)].append(sec)
        cpu[(v, ds, method)].append(cpu_s)
        preds[(v, ds, method)].append(run_dir / "predictions.csv")
        rec.data["results"].setdefault("jobs", []).append(
            {"variant": v, "dataset": ds, "method": method, "fold": fold, "wall_s": sec, "cpu_s": cpu_s,
             "predictions": str(run_dir / "predictions.csv")})
        print(f"  {v:32s} {ds:5s} {method:8s} fold {fold:5s} {sec:6.1f} s ({cpu_s:.1f} CPU-s)", flush=True)
    print("\nvariant                          dataset method    s/job  CPU-s/job  ICC    MAE")
    for (v, ds, method), secs in seconds.items():
        m = evaluate_runs(preds[(v, ds, method)], pooled=True)["pooled"]["avg"]
        c = sum(cpu[(v, ds, method)]) / len(secs)
        rec.data["results"].setdefault("summary", []).append(
            {"variant": v, "dataset": ds, "method": method, "wall_s_per_job": sum(secs) / len(secs),
             "cpu_s_per_job": c, "icc": m["icc"], "mae": m["mae"]})
        print(f"{v:32s} {ds:7s} {method:8s} {sum(secs) / len(secs):6.1f}  {c:8.1f}  {m['icc']:.3f}  {m['mae']:.3f}")
    if args.record:
        rec.write(args.record)


if __name__ == "__main__":
    main()
