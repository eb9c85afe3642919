"""benchmarks/rehearse_paper_scale.py's plumbing: sizes, the generator command, the workflow config and
targets, benchmark-record parsing and the table (pure functions; a real run takes minutes to hours)."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import load_benchmark
from test_preprocess_cache import S, tiny, tiny_caches  # noqa: F401  (fixtures reused)



@pytest.fixture(scope="module")
def rehearse():
    return load_benchmark("rehearse_paper_scale")


def test_sizes_are_the_real_datasets_and_their_fractions(rehearse):
    full = rehearse.plan_sizes("disfa", Fraction(1))
    assert len(full["subjects"]) == 27 and full["total_frames"] == 130_815 and full["frame_size"] == [1024, 768]
    assert [len(rehearse.plan_sizes("disfa", Fraction(f))["subjects"]) for f in ("1/9", "1/3")] == [3, 9]
    ninth = rehearse.plan_sizes("disfa", Fraction(1, 9))
    assert ninth["test"] == ["SN001"] and ninth["train"] == ["SN002", "SN003"]
    bp4d = rehearse.plan_sizes("bp4d", Fraction(1))
    assert len(bp4d["subjects"]) == 41 and bp4d["frame_size"] == [1040, 1392] and len(bp4d["tasks"]) == 8
    # FERA 2015: ~75.6k + ~71.3k labelled frames
    assert abs(bp4d["total_frames"] - (75_600 + 71_300)) < 0.01 * 146_900
    small = rehearse.plan_sizes("bp4d", Fraction(1, 9))
    assert small["test"] == ["F002"] and set(small["subjects"]) == {"F002", "F004", "F001", "F003"}
    tiny = rehearse.plan_sizes("disfa", Fraction(1), subjects=2, frames=40, frame_size=(320, 240))
    assert tiny["total_frames"] == 80 and tiny["frame_size"] == [320, 240]
    with pytest.raises(ValueError):
        rehearse.plan_sizes("disfa", Fraction(1), subjects=1)  # nothing left to train on


@pytest.mark.parametrize("dataset", ["disfa", "bp4d"])
def test_generator_command_parses_and_writes_one_dataset(rehearse, dataset, tmp_path):
    from g2rl.demo.cli import add_arguments

    sizes = rehearse.plan_sizes(dataset, Fraction(1, 9))
    cmd = rehearse.demo_command("python", dataset, sizes, tmp_path / "data", 2)
    assert cmd[:4] == ["python", "-m", "g2rl", "demo-data"]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(cmd[4:])
    assert tuple(args.frame_size) == tuple(sizes["frame_size"])
    if dataset == "disfa":
        assert args.disfa_subjects == sizes["subjects"] and args.bp4d_train == [] and args.bp4d_devel == []
        assert args.disfa_frames == 4845
    else:
        assert args.disfa_subjects == [] and args.bp4d_devel == ["F002"] and len(args.bp4d_tasks) == 8
        assert sorted(args.bp4d_train + args.bp4d_devel) == sorted(sizes["subjects"])


@pytest.mark.parametrize("dataset", ["disfa", "bp4d"])
def test_config_is_the_paper_config_with_a_bounded_slice(rehearse, dataset):
    from g2rl.config import validate

    sizes = rehearse.plan_sizes(dataset, Fraction(1, 3))
    cfg = validate(rehearse.rehearsal_config(dataset, "/data/X", sizes, 256), check_roots=False)
    assert cfg["datasets"] == [dataset] and cfg[dataset]["root"] == "/data/X"
    assert cfg["preprocess"]["crop_size"] == 256 and cfg["preprocess"]["au_points"] == "pairs"
    assert cfg["model"]["backbone"] == "resnet50" and cfg["model"]["pretrained"] is None
    assert cfg["model"]["allow_random_init"] and cfg["train"]["max_train_samples"] == 256
    assert cfg["train"]["epochs"] == 1 and cfg["experiments"]["sigma_sweep"] == []
    assert cfg["experiments"]["ablation"]["variants"] == {}
    side = cfg["disfa"]["folds"] if dataset == "disfa" else cfg["bp4d"]["partitions"]
    assert sorted(sum(side.values(), [])) == sorted(sizes["subjects"])
    tg = rehearse.targets(cfg, dataset, "1" if dataset == "disfa" else "devel")
    assert tg["heatmaps"] == [f"results/{dataset}/cache/heatmaps_sigma2.h5"]
    assert tg["train"][0].endswith("/g2rl/sigma2/lambda0.05/seed0/fold" + ("1" if dataset == "disfa" else "devel")
                                   + "/predictions.csv")


BENCH = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
         "{s}\t0:01:02\t{rss}\t900.1\t400.0\t410.0\t1.5\t300.0\t95.0\t{cpu}\n")


def test_benchmark_records_are_parsed_and_summed(rehearse, tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text(BENCH.format(s=62.5, rss=512.25, cpu=60.0))
    b.write_text(BENCH.format(s=10.0, rss="NA", cpu=9.5))
    rec = rehearse.parse_benchmark(a)
    assert rec["s"] == 62.5 and rec["max_rss"] == 512.25 and rec["cpu_time"] == 60.0 and "h:m:s" not in rec
    assert rehearse.parse_benchmark(b)["max_rss"] is None
    total = rehearse.sum_benchmarks([a, b])
    assert total == {"jobs": 2, "s": 72.5, "cpu_time": 69.5, "max_rss": 512.25, "max_s": 62.5}


def test_table_lists_every_measured_stage(rehearse):
    sizes = rehearse.plan_sizes("disfa", Fraction(1, 9))
    stage = {"wall_s": 10.0, "cpu_s": 9.0, "max_rss_mb": 100.0, "disk_mb": 5.0, "frames": 14_535}
    record = {
        "dataset": "disfa", "fraction": "1/9", "sizes": sizes, "started": "2026-12-03 07:00 UTC", "load_start": "0.1",
        "machine": {"Model name": "CPU", "nproc": 2, "mem_gib": 23.5, "bf16": True, "commit": "abc1234"},
        "settings": {"max_train_samples": 256, "epochs": 1, "batch_size": 16, "threads": 2, "num_workers": 2},
        "stages": {"demo_data": stage, "landmarks": {**stage, "jobs": 3}, "crop_cache": stage,
                   "train": {**stage, "images": 256, "images_per_s": 5.0, "data_wait_share": 0.1, "epoch_s": 51.2,
                             "n_train": 9690, "n_test": 4845}},
        "reads": {"rows_in_cache": 14_535, "cold": True, "workers": 2, "batch_size": 16, "samples": 2000,
                  "wall_s": 4.0, "samples_per_s": 500.0, "mb_per_s": 100.0},
    }
    text = rehearse.format_table(record)
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| stage")]
    assert [r.split(" | ")[0][2:] for r in rows] == ["demo_data", "landmarks", "crop_cache", "train"]
    assert "| landmarks | 3 | 14,535 | 10.0 | 9.0 | 100 | 5 | 0.69 |" in text
    assert "3 subjects x 4845 frames = 14,535 frames of 1024 x 768" in text and "commit abc1234" in text
    assert "**500 samples/s**" in text and "256 images at 5.00 img/s" in text


def test_tiled_cache_reads_like_the_original(rehearse, tiny_caches, tmp_path):
    """The read measurement's larger-than-RAM copy: k x the rows, valid for the real reader, rows repeating."""
    import h5py
    import numpy as np

    from g2rl.preprocess.batches import open_cache_rows

    _, crops, heat = tiny_caches
    big_crops, big_heat = rehearse.tile_cache(crops, heat, 3, tmp_path / "tiled", block=2)
    small = open_cache_rows(crops, heat, sigma=2.0, in_memory="off")
    big = open_cache_rows(big_crops, big_heat, sigma=2.0, in_memory="off")
    assert len(big) == 3 * len(small)
    for i in (0, len(small) - 1):
        for r in range(3):
            a, b = small.batch([i]), big.batch([r * len(small) + i])
            assert np.array_equal(a["image"].numpy(), b["image"].numpy())
            assert np.array_equal(a["heatmaps"].numpy(), b["heatmaps"].numpy())
    with h5py.File(big_crops) as f:
        assert f["images"].fletcher32  # read as the real cache is, checksums verified
    with h5py.File(heat) as f, h5py.File(big_heat) as g:  # the same filters, level included, as the original
        assert (g["heatmaps"].compression, g["heatmaps"].compression_opts) == (f["heatmaps"].compression,
                                                                             f["heatmaps"].compression_opts)
    got = rehearse.measure_reads(big_crops, big_heat, samples=5, workers=0, batch_size=2, drop=False)
    assert got["samples"] == 5 and got["rows_in_cache"] == len(big) and not got["cold"]


def test_copied_data_has_the_planned_subjects(rehearse, tmp_path):
    """--copy-data-from: a larger DISFA tree from a smaller one's sequences, renamed, readable by the real reader."""
    from g2rl.datasets.disfa import index_disfa
    from g2rl.demo import generate_demo

    src = tmp_path / "src"
    generate_demo(src, disfa_subjects=["SN001", "SN002"], disfa_frames=20, bp4d_train=[], bp4d_devel=[],
                  frame_size=(320, 240))
    sizes = rehearse.plan_sizes("disfa", Fraction(1), subjects=3, frames=20, frame_size=(320, 240))
    mapping = rehearse.copy_data(src, tmp_path / "dst", "disfa", sizes)
    assert mapping == {"SN001": "SN001", "SN002": "SN002", "SN003": "SN001"}
    index = index_disfa(tmp_path / "dst" / "DISFA", folds={"1": ["SN001"], "2": ["SN002", "SN003"]})
    assert len(index) == 60 and sorted(index["subject"].unique()) == ["SN001", "SN002", "SN003"]
    with pytest.raises(SystemExit):  # other sequence length
        rehearse.copy_data(src, tmp_path / "dst2", "disfa", {**sizes, "frames": 30})


def test_scaling_table_puts_scales_side_by_side(rehearse):
    def rec(frac, frames, wall):
        sizes = rehearse.plan_sizes("disfa", Fraction(frac))
        return {"dataset": "disfa", "fraction": frac, "sizes": {**sizes, "total_frames": frames},
                "stages": {"crop_cache": {"frames": frames, "wall_s": wall, "cpu_s": wall / 2, "max_rss_mb": 200.0}}}

    text = rehearse.scaling_table([rec("1/9", 10_000, 30.0), rec("1/3", 30_000, 120.0)])
    assert "disfa 1/9 (10,000 frames)" in text and "disfa 1/3 (30,000 frames)" in text
    assert "| crop_cache (wall / CPU s per 1k frames, peak RSS) | 3.00 / 1.50 s, 200 MB | 4.00 / 2.00 s, 200 MB |" in text


def test_synthetic_predictions_are_table1s_runs_and_read_like_real_ones(rehearse, tiny_caches, tmp_path):
    """The evaluation stage: Table 1's runs of the paper config (2 methods x its seeds x the test folds), each a
    predictions.csv over exactly its fold's cache rows that `g2rl evaluate`'s reader accepts, and a
    diagnostics.json that says no network made it."""
    import h5py

    from g2rl.formats import DIAGNOSTICS_FORMAT
    from g2rl.jsonfile import read_json
    from g2rl.reports.evaluate import read_predictions

    _, crops, _ = tiny_caches
    sizes = rehearse.plan_sizes("disfa", Fraction(1), subjects=2, frames=40, frame_size=(320, 240))
    ecfg = rehearse.evaluation_config(rehearse.rehearsal_config("disfa", "/data/X", sizes, 16), "disfa")
    assert ecfg["results"] == rehearse.EVAL_RESULTS and ecfg["experiments"]["seeds"] == [0, 1, 2]
    runs = rehearse.evaluation_runs(ecfg, "disfa")
    assert len(runs) == 2 * 3 * 2
    assert (runs[0][3] == f"{rehearse.EVAL_RESULTS}/disfa/runs/baseline/sigma2/lambda0/seed0/fold1"
            and runs[-1][3] == f"{rehearse.EVAL_RESULTS}/disfa/runs/g2rl/sigma2/lambda0.05/seed2/fold2")
    made = rehearse.write_synthetic_predictions(crops, runs, tmp_path)
    with h5py.File(crops) as f:
        split = f["split"].asstr()[...]
    assert made["files"] == 12 and made["rows"] == 6 * len(split)
    seen = {}
    for method, seed, fold, run in runs:
        df, aus = read_predictions(tmp_path / run / "predictions.csv")
        assert set(df["split"]) == {fold} and len(df) == int((split == fold).sum())
        assert df[[f"{a}_pred" for a in aus]].notna().all().all()
        seen[(method, seed, fold)] = df[f"{aus[0]}_pred"].to_numpy()
        diag = read_json(tmp_path / run / "diagnostics.json", DIAGNOSTICS_FORMAT, "diagnostics")
        assert not diag["teach"]["available"] and "synthetic" in diag["teach"]["reason"]
    # each run its own draw (seeds and methods differ as trainings would)
    assert not np.array_equal(seen[("g2rl", 0, "1")], seen[("g2rl", 1, "1")])


@pytest.mark.parametrize("allowed", [(), ("evaluate", "table1")])
def test_snakemake_command_keeps_its_targets(rehearse, allowed):
    """--configfile and --allowed-rules take several values: targets appended after them must still parse as
    targets (Snakemake once read a target as a second config file)."""
    from snakemake.cli import get_argument_parser

    base = ["--snakefile", "Snakefile", "--directory", "work", "--cores", "2"]
    cmd = rehearse.snakemake_command(base, Path("rehearsal.yaml"), allowed) + ["results/a.csv", "results/b.csv"]
    args = get_argument_parser().parse_args(cmd)
    assert [str(c) for c in args.configfile] == ["rehearsal.yaml"] and list(args.targets) == ["results/a.csv", "results/b.csv"]
    assert set(args.allowed_rules or ()) == set(allowed)
