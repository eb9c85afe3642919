"""GPU readiness in one run: training img/s and data wait, trainings per card, card placement, host syncs,
torch.compile, and the predict network's img/s; one table and one JSON record.

    python benchmarks/gpu_check.py build --out DIR                 # a 256 px cache, numpy + OpenCV + h5py only
    python benchmarks/gpu_check.py measure --crops DIR/crops.h5 --heatmaps DIR/heatmaps_sigma2.h5 --record R.json
    python benchmarks/gpu_check.py ... --smoke                      # tiny settings, on the CPU: checks the script

benchmarks/gpu_check.sh runs both (the machine it is for has no dlib, no Snakemake and nothing to
download: ``build`` writes a synthetic DISFA-like video, landmarks placed on a mean face, random labels,
and turns them into a cache with g2rl's own writers, build_crop_cache and build_heatmap_cache, in the
paper config's layout: the ``pairs`` AU points, one map per point). ``measure`` runs each part in its own
interpreter under its own time limit (a part that hangs or is slow prints "timeout" and the rest still
runs), all parts within ``--budget`` seconds:

feed     the paper's G2RL training step (g2rl.training.step, bf16 + channels_last on CUDA) fed by the real
         data path (g2rl.preprocess.batches through g2rl.training.feed, rows read from the files as for a
         fold too large to hold) with 0 / 4 / 8 / 15 worker processes (those the machine has), batch 16
         and 32; each cold (the cache's pages dropped first: benchmarks/pagecache.py, checked with mincore)
         and then warm (the same rows, now cached): img/s over the measured steps and the share of that
         time the training loop waited for a batch. The measured steps follow a warm-up of workers x
         prefetch + 3 batches, so the queue the workers filled at the start cannot hide a slow feed.
syncs    host syncs in the steady-state step: under torch.cuda.set_sync_debug_mode("error") on CUDA, the
         count of g2rl.training.syncs elsewhere (in the feed part's process).
jobs     1 / 2 / 3 G2RL trainings on one card, started together: each builds its model and warms up, then
         waits at a barrier until all are ready, so the img/s are those of trainings running at the same
         time (data already on the device: the card's share, not the feed's).
place    card placement (g2rl.training.gpu_slots): cards x --jobs-per-gpu probes started together.
predict  the paper model's forward pass on batches of aligned 256 px crops through predict's AUModel
         (uint8 crops -> normalised input -> heatmaps -> intensities): the network side of `g2rl predict`.
         The landmark side (dlib) is not measured: this machine has no dlib.
compile  the G2RL step eager, under torch.compile, and under torch.compile(mode="reduce-overhead") (CUDA
         graphs; CUDA only): img/s and the seconds the first steps took (compilation).

``--smoke`` shrinks everything (ResNet-18 to layer 3 @ 64 px, narrow deconvolutions and geometry branch, 2
steps, workers 0 and 1, two trainings at once, placement on 2 simulated cards, torch.compile with the
eager backend) so that
tests/test_gpu_check.py runs the script end to end on a CPU. Times are host wall time, the device
synchronised at the end of each measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PAPER = {"backbone": "resnet50", "deconv": [256, 256, 256], "crop": 256, "frames": 4000, "batches": [16, 32],
         "workers": [0, 4, 8, 15], "steps": 40, "jobs": [1, 2, 3], "job_steps": 40, "predict_images": 1024,
         "predict_batch": 16, "compile_modes": ["default", "reduce-overhead"], "compile_backend": "inductor"}
# --smoke: the demo's short trunk (deconv with two widths) and a narrow geometry branch, so that CI pays seconds
SMOKE = {"backbone": "resnet18", "deconv": [8, 8], "crop": 64, "frames": 48, "batches": [2, 4],
         "workers": [0, 1], "steps": 2, "jobs": [2], "job_steps": 2, "predict_images": 8, "predict_batch": 4,
         "compile_modes": ["default"], "compile_backend": "eager",
         "model": {"gcn_channels": [8, 8, 8], "gcn_conv_channels": 4, "gcn_fc_channels": [16, 16], "latent_dim": 8,
                   "projection_pool": 1}}
# seconds per part (each also capped by what is left of --budget)
LIMITS = {"feed": 240, "jobs": 75, "place": 40, "predict": 60, "compile": 150}
SIGMA = 2.0


# -- build: a cache without dlib, Snakemake or a download ----------------------------------------------

def build_cache(out: Path, frames: int, crop: int) -> tuple[Path, Path]:
    """A DISFA-like crops + heatmaps cache of ``frames`` rows in the paper config's layout, made by the
    project's writers from a synthetic video (a textured background moving under a mean face's landmarks;
    what the pixels show does not matter for speed). Frames split 3 : 1 into splits "2" and "1"."""
    import numpy as np
    import pandas as pd

    from g2rl.datasets.disfa import DISFA_AUS
    from g2rl.media import VideoWriter
    from g2rl.predict.pose import MEAN_FACE_3D
    from g2rl.preprocess.au_points import PAIRS_AU_POINTS
    from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache
    from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS, write_landmarks_csv

    out.mkdir(parents=True, exist_ok=True)
    size = max(160, int(crop * 1.25))
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    video = out / "SN001.avi"
    face = MEAN_FACE_3D[:, :2] * (0.36 * size / 61.0) + np.array([size / 2, size * 0.42])  # IOD ~ 0.36 frame
    points = []
    with VideoWriter(video, 20, (size, size)) as writer:
        for i in range(frames):
            writer.write(np.roll(texture, (i % size, (3 * i) % size), axis=(0, 1)))
            points.append(face + rng.normal(0, 0.5, face.shape) + [np.sin(i / 25) * 3, 0])
    pts = np.stack(points)
    table = pd.DataFrame({"frame": np.arange(frames), "success": 1, "detector_score": 2.0,
                          **dict(zip(X_COLUMNS, pts[:, :, 0].T)), **dict(zip(Y_COLUMNS, pts[:, :, 1].T))})
    csv = out / "SN001.csv"
    write_landmarks_csv(table, csv)
    aus = [f"AU{a:02d}" for a in DISFA_AUS]
    index = pd.DataFrame({"dataset": "disfa", "subject": "SN001", "session": "LeftCamera", "frame": np.arange(frames) + 1,
                          "media": str(video), "media_frame": np.arange(frames),
                          "split": np.where(np.arange(frames) % 4 == 0, "1", "2"),
                          **{au: rng.integers(0, 6, frames).astype(float) for au in aus}})
    crops, heat = out / "crops.h5", out / f"heatmaps_sigma{SIGMA:g}.h5"
    build_crop_cache(index, {("SN001", "LeftCamera"): csv}, crops, crop, aus, PAIRS_AU_POINTS, max_gap=5,
                     log=lambda s: None, progress=False)
    build_heatmap_cache(crops, SIGMA, heat, log=lambda s: None, layout="per_point", peak="eq1")
    video.unlink()  # the crops hold the pixels now
    return crops, heat


# -- parts (each runs in its own interpreter: python gpu_check.py --part JSON) -------------------------

def emit(**row) -> None:
    """One result line; the parent reads these as they come, so a part killed late keeps what it printed."""
    print(json.dumps(row, default=str), flush=True)


def _setup(spec):
    """(device, bf16, channels_last, model, optimizer, rows) for the paper model on the cache's layout."""
    import torch

    from g2rl.model import G2RLModel
    from g2rl.model.config import ModelConfig
    from g2rl.preprocess.batches import open_cache_rows
    from g2rl.training.device import resolve_device, use_bf16, use_channels_last

    dev = resolve_device(spec["device"])
    bf16 = use_bf16(dev, "auto")
    cl = use_channels_last(dev, "auto", bf16)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as g2rl.training.loop sets it
    rows = open_cache_rows(spec["crops"], spec["heatmaps"], in_memory="off")
    aus = list(rows.attrs["aus"])
    config = ModelConfig.from_dict({"backbone": spec["backbone"], "deconv_channels": spec["deconv"], **spec.get("model", {})})
    config = config.with_heatmap_choices(rows.heatmap_attrs, aus, spec["heatmaps"])
    torch.manual_seed(0)
    model = G2RLModel(config, len(aus), 0.05, None, rows.heatmap_attrs["channel_au"]).to(dev)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    fused = True if dev.type in ("cpu", "cuda") else None
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-5, fused=fused)
    return dev, bf16, cl, model, optimizer, rows


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def part_feed(spec) -> None:
    """Training img/s and data wait for each batch size x workers x (cold, warm) with the stored maps; the first
    batch size cold with the maps rendered on the device (train.heatmap_source: device) at the first two worker
    settings; then the host syncs."""
    import numpy as np

    from pagecache import evict

    from g2rl.training.feed import PREFETCH, BatchFeed, to_device
    from g2rl.training.settings import available_cpus
    from g2rl.training.step import StepRecord, train_step

    from g2rl.preprocess.batches import open_cache_rows

    dev, bf16, cl, model, optimizer, rows = _setup(spec)
    rendered = open_cache_rows(spec["crops"], spec["heatmaps"], in_memory="off", heatmap_source="device")
    rng = np.random.default_rng(0)
    cpus = available_cpus()
    cases = [(bs, w, temp, "cache") for bs in spec["batches"] for w in spec["workers"] for temp in ("cold", "warm")]
    cases += [(spec["batches"][0], w, "cold", "device") for w in spec["workers"][:2]]
    for bs, w, temp, source in cases:
        if w > max(cpus - 1, 0):
            if temp == "cold":
                emit(part="feed", batch=bs, workers=w, source=source, skipped=f"the machine has {cpus} CPUs")
            continue
        warm_up, steps = w * PREFETCH + 3, spec["steps"]
        n = (warm_up + steps) * bs
        order = rng.choice(len(rows), size=n, replace=n > len(rows))
        resident = evict(spec["crops"], spec["heatmaps"]) if temp == "cold" else None
        source_rows = rendered if source == "device" else rows
        feed = BatchFeed(source_rows, bs, w, pin=dev.type == "cuda")
        record = StepRecord(dev, True, spec["crops"], spec["heatmaps"])
        t_start = time.perf_counter()
        for i, batch in enumerate(feed.epoch(order)):
            if i == warm_up:
                _sync(dev)
                t0, waited = time.perf_counter(), feed.waited
            b = to_device(batch, dev, cl, source_rows.renderer)
            record.add(train_step(model, optimizer, b, "landmarks", dev, bf16), b)
        _sync(dev)
        seconds = time.perf_counter() - t0
        record.check(0, 5e-4)
        feed.close()
        emit(part="feed", batch=bs, workers=w, temp=temp, source=source, images_per_s=steps * bs / seconds,
             wait_share=(feed.waited - waited) / seconds, resident_before=resident, steps=steps,
             warm_up_batches=warm_up, start_s=t0 - t_start)
    # host syncs in steady-state steps (rows held in memory: the step, not the feed)
    from g2rl.training.syncs import count_host_syncs, cuda_sync_errors

    for source in ("cache", "device"):
        held = open_cache_rows(spec["crops"], spec["heatmaps"], np.arange(min(len(rows), 8 * spec["batches"][0])),
                               in_memory="on", heatmap_source=source)
        order = np.resize(np.arange(len(held)), 8 * spec["batches"][0])
        batches = iter(BatchFeed(held, spec["batches"][0], pin=dev.type == "cuda").epoch(order))
        record = StepRecord(dev, True, spec["crops"], spec["heatmaps"])

        def steps(k: int):
            for _ in range(k):
                b = to_device(next(batches), dev, cl, held.renderer)
                record.add(train_step(model, optimizer, b, "landmarks", dev, bf16), b)

        steps(2)
        if dev.type == "cuda":
            error = cuda_sync_errors(lambda: steps(4))
            emit(part="syncs", source=source, how="torch.cuda.set_sync_debug_mode('error'), 4 steps",
                 syncs=0 if error is None else None, error=error)
        else:
            found = count_host_syncs(lambda: steps(4))
            emit(part="syncs", source=source, how="g2rl.training.syncs, 4 steps", syncs=sum(found.values()),
                 found=dict(found))


def part_job(spec) -> None:
    """One of several trainings sharing a card: warm up, wait for all at the barrier, then measure."""
    import numpy as np
    import torch

    from g2rl.preprocess.batches import RowBatches
    from g2rl.training.feed import to_device
    from g2rl.training.step import train_step

    dev, bf16, cl, model, optimizer, rows = _setup(spec)
    bs, crop = spec["batches"][0], rows.crop_size
    r = np.random.default_rng(os.getpid())
    fake = RowBatches({  # random rows of the cache's shapes, already on the device: the card's share only
        "image": r.integers(0, 256, (bs, crop, crop, 3), dtype=np.uint8),
        "heatmaps": (r.random((bs, *rows.large["heatmaps"][0])) * 0.05).astype(np.float16),
        "intensity": (r.random((bs, len(rows.attrs["aus"]))) * 5).astype(np.float32),
        "landmarks": rows.arrays["landmarks"][:bs], "row": np.arange(bs),
    })  # fmt: skip
    b = to_device(fake.batch(np.arange(bs)), dev, cl)
    for _ in range(3):
        train_step(model, optimizer, b, "landmarks", dev, bf16)
    _sync(dev)
    barrier = Path(spec["barrier"])
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < spec["n"]:
        time.sleep(0.01)
    t0 = time.time()
    for _ in range(spec["job_steps"]):
        train_step(model, optimizer, b, "landmarks", dev, bf16)
    _sync(dev)
    t1 = time.time()
    emit(part="job", images_per_s=spec["job_steps"] * bs / (t1 - t0), start=t0, end=t1, device=str(dev),
         memory_gb=torch.cuda.max_memory_allocated(dev) / 1e9 if dev.type == "cuda" else None)


def part_place(spec) -> None:
    """Take a card slot as `g2rl train --device cuda` does, touch the card, hold the slot until all have one."""
    from g2rl.training.gpu_slots import GpuSlots, place

    sim = spec["slots"].get("simulated_cards")  # --smoke: cards that are not there (nothing touches them)
    count = {"device_count": lambda: sim} if sim else {}
    device = place("cuda", GpuSlots(spec["slots"]["jobs_per_gpu"], spec["slots"]["lock_dir"]), **count).device
    if not sim:
        import torch

        torch.ones(1, device=device).sum().item()  # the card it got is usable
    barrier = Path(spec["barrier"])
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < spec["probes"]:
        time.sleep(0.05)
    emit(part="place", device=device)


def part_predict(spec) -> None:
    """images/s of predict's network path (AUModel.predict) on batches of aligned crops, paper model."""
    from bench_predict import network_alone, write_checkpoint

    from g2rl.predict.model import load_au_model

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "model.pt"
        write_checkpoint(ckpt, spec["backbone"], spec["crop"], tuple(spec["deconv"]))
        model = load_au_model(ckpt, spec["device"])
        network_alone(model, spec["predict_batch"], 2 * spec["predict_batch"])  # warm-up (cuDNN's choices)
        ips = network_alone(model, spec["predict_batch"], spec["predict_images"])
    emit(part="predict", images_per_s=ips, batch=spec["predict_batch"], bf16=model.bf16, device=str(model.device))


def part_compile(spec) -> None:
    """The G2RL step eager and compiled: img/s after the first steps, and how long those took."""
    import numpy as np
    import torch

    from g2rl.training.feed import to_device
    from g2rl.training.step import train_step

    dev, bf16, cl, model, optimizer, rows = _setup(spec)
    bs = spec["batches"][0]
    b = to_device(rows.batch(np.arange(bs)), dev, cl)
    modes = [("eager", None)] + [(m, m) for m in spec["compile_modes"] if m == "default" or dev.type == "cuda"]
    for name, mode in modes:
        net = model if mode is None else torch.compile(model, mode=mode, backend=spec["compile_backend"])
        t0 = time.perf_counter()
        for _ in range(3):
            train_step(net, optimizer, b, "landmarks", dev, bf16)
        _sync(dev)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(spec["job_steps"]):
            train_step(net, optimizer, b, "landmarks", dev, bf16)
        _sync(dev)
        emit(part="compile", mode=name, backend=None if mode is None else spec["compile_backend"],
             images_per_s=spec["job_steps"] * bs / (time.perf_counter() - t0), first_steps_s=first)


PARTS = {"feed": part_feed, "job": part_job, "place": part_place, "predict": part_predict, "compile": part_compile}


# -- the parent: parts under time limits, the table, the record -----------------------------------------

class Budget:
    """Seconds left of the whole measurement; a part gets its own limit or what is left, less a reserve
    for writing the table."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def limit(self, part: str) -> float:
        return max(1.0, min(LIMITS[part], self.end - time.monotonic() - 5.0))


def _command(spec: dict) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--part", json.dumps(spec)]


def _lines(text: str) -> list[dict]:
    return [json.loads(ln) for ln in (text or "").splitlines() if ln.startswith("{")]


def run_part(spec: dict, timeout: float) -> tuple[list[dict], str | None]:
    """(result lines, error or None) of one part in a fresh interpreter, killed after ``timeout`` s."""
    try:
        done = subprocess.run(_command(spec), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        return _lines(out), f"timeout after {timeout:.0f} s"
    if done.returncode:
        return _lines(done.stdout), (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:160]
    return _lines(done.stdout), None


def run_together(spec: dict, n: int, timeout: float) -> list[tuple[list[dict], str | None]]:
    """n copies of one part started at once, each with its own result (they meet at spec's barrier)."""
    procs = [subprocess.Popen(_command(spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    out, deadline = [], time.monotonic() + timeout
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            err = None if p.returncode == 0 else (stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:160]
            out.append((_lines(stdout), err))
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, _ = p.communicate()
            out.append((_lines(stdout), f"timeout after {timeout:.0f} s"))
    return out


class Report:
    """The table's rows as they are measured, and the record (rewritten after each part)."""

    def __init__(self, record_path: Path | None, header: dict) -> None:
        from record import Record

        self.rows: list[tuple[str, str]] = []
        self.record = Record("gpu_check", header)
        self.record.data["results"] = {"lines": [], "errors": {}, "table": self.rows}
        self.path = record_path

    def add(self, name: str, text: str) -> None:
        self.rows.append((name, text))
        print(f"  {name:58s} {text}", flush=True)

    def part(self, name: str, lines: list[dict], error: str | None) -> None:
        self.record.data["results"]["lines"] += lines
        if error:
            self.record.data["results"]["errors"][name] = error
        self.save()

    def save(self) -> None:
        """Write the record as it stands (after each part, so a run cut short keeps what it measured)."""
        if self.path:
            self.record.write("gpu_check", self.path, quiet=True)

    def table(self) -> str:
        return "\n".join(["| measurement | result |", "|---|---|", *(f"| {n} | {t} |" for n, t in self.rows)])


def measure_feed(base: dict, size: dict, budget: Budget, report: Report) -> None:
    lines, error = run_part({**base, "kind": "feed"}, budget.limit("feed"))
    report.part("feed", lines, error)
    for r in lines:
        maps = "maps rendered on the device" if r.get("source") == "device" else "stored maps"
        if r["part"] == "feed" and "skipped" in r:
            report.add(f"feed: batch {r['batch']}, {r['workers']} workers, {maps}", f"skipped: {r['skipped']}")
        elif r["part"] == "feed":
            report.add(f"feed: batch {r['batch']}, {r['workers']} workers, {r['temp']}, {maps}",
                       f"{r['images_per_s']:.1f} img/s, waiting for data {100 * r['wait_share']:.1f} %")
        elif r["part"] == "syncs":
            found = r["syncs"] if r.get("syncs") is not None else f"at least 1 ({r.get('error')})"
            report.add(f"host syncs in 4 steady-state steps, {maps}", f"{found} ({r['how']})")
    done = {(r["batch"], r["workers"], r.get("source")) for r in lines if r["part"] == "feed"}
    if error or len(done) < len(size["batches"]) * len(size["workers"]) + len(size["workers"][:2]):
        report.add("feed: the rest", f"failed: {error or 'no output'}")


def measure_jobs(base: dict, size: dict, budget: Budget, report: Report) -> None:
    for n in size["jobs"]:
        with tempfile.TemporaryDirectory(prefix="g2rl_gpu_barrier_") as barrier:
            got = run_together({**base, "kind": "job", "n": n, "barrier": barrier}, n, budget.limit("jobs"))
        lines = [ln for lines, _ in got for ln in lines]
        errors = [e for _, e in got if e]
        report.part(f"jobs {n}", lines, errors[0] if errors else None)
        ok = [ln for ln in lines if ln.get("part") == "job"]
        if len(ok) == n:
            overlap = min(r["end"] for r in ok) - max(r["start"] for r in ok)
            span = max(r["end"] for r in ok) - min(r["start"] for r in ok)
            text = (f"{sum(r['images_per_s'] for r in ok):.1f} img/s in total, "
                    f"{min(r['images_per_s'] for r in ok):.1f}-{max(r['images_per_s'] for r in ok):.1f} each; "
                    f"all {n} running together {100 * max(overlap, 0) / span:.0f} % of the time")
        else:
            text = f"failed: {errors[0] if errors else 'no output'}"
        report.add(f"{n} G2RL training(s) on one card (barrier start, data on the card)", text)


def measure_placement(base: dict, smoke: bool, jobs_per_gpu: int, budget: Budget, report: Report) -> None:
    import torch

    cards = 2 if smoke else (torch.cuda.device_count() if base["device"].startswith("cuda") else 0)
    if not cards:
        report.add("card placement", "skipped: no CUDA device")
        return
    with tempfile.TemporaryDirectory(prefix="g2rl_gpu_slots_") as scratch:  # apart from real trainings' slots
        barrier = Path(scratch, "placed")
        barrier.mkdir()
        slots = {"jobs_per_gpu": jobs_per_gpu, "lock_dir": str(Path(scratch, "locks")),
                 **({"simulated_cards": cards} if smoke else {})}
        n = cards * jobs_per_gpu
        got = run_together({**base, "kind": "place", "slots": slots, "barrier": str(barrier), "probes": n}, n,
                           budget.limit("place"))
    lines = [ln for lines, _ in got for ln in lines]
    report.part("place", lines, next((e for _, e in got if e), None))
    where = Counter(ln["device"] for ln in lines if ln.get("part") == "place")
    even = sorted(where) == [f"cuda:{i}" for i in range(cards)] and set(where.values()) == {jobs_per_gpu}
    text = ", ".join(f"{d} x{c}" for d, c in sorted(where.items())) or "no probe answered"
    report.add(f"placement, {n} jobs on {cards}{' simulated' if smoke else ''} card(s) x {jobs_per_gpu}",
               text + (": ok" if even else ": UNEVEN"))


def measure_single(kind: str, base: dict, budget: Budget, report: Report) -> list[dict]:
    lines, error = run_part({**base, "kind": kind}, budget.limit(kind))
    report.part(kind, lines, error)
    if error:
        report.add(kind, f"failed: {error}")
    return [ln for ln in lines if ln.get("part") == kind]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", nargs="?", choices=("build", "measure"))
    ap.add_argument("--out", type=Path, help="build: the cache's folder")
    ap.add_argument("--crops", help="measure: the crops cache")
    ap.add_argument("--heatmaps", help="measure: its heatmaps cache")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--smoke", action="store_true", help="tiny settings: checks the script, not the machine")
    ap.add_argument("--budget", type=float, default=420.0, help="measure: seconds for all parts together")
    ap.add_argument("--jobs-per-gpu", type=int, default=2, help="card slots of the placement case")
    ap.add_argument("--record", type=Path, help="measure: write the JSON record here")
    ap.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part, print JSON lines
    args = ap.parse_args()
    size = SMOKE if args.smoke else PAPER
    if args.part:
        spec = json.loads(args.part)
        PARTS[spec["kind"]](spec)
        return 0
    if args.action == "build":
        if not args.out:
            ap.error("build needs --out")
        t0 = time.perf_counter()
        crops, heat = build_cache(args.out, size["frames"], size["crop"])
        print(f"# cache: {crops} and {heat}, {size['frames']} frames at {size['crop']} px, built in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        return 0
    if not (args.action == "measure" and args.crops and args.heatmaps):
        ap.error("measure needs --crops and --heatmaps")
    import torch

    budget = Budget(args.budget)
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    where = f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}" if dev.startswith("cuda") else "CPU"
    base = {**size, "device": dev, "crops": args.crops, "heatmaps": args.heatmaps}
    report = Report(args.record, {"smoke": args.smoke, "device": dev, "budget_s": args.budget, **size})
    print(f"# gpu_check{' --smoke' if args.smoke else ''}: {where}, {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"{size['backbone']} @ {size['crop']} px, deconv {size['deconv']}; budget {args.budget:.0f} s", flush=True)
    measure_feed(base, size, budget, report)
    measure_jobs(base, size, budget, report)
    measure_placement(base, args.smoke, args.jobs_per_gpu, budget, report)
    for r in measure_single("predict", base, budget, report):
        report.add(f"predict network path, {size['backbone']} @ {size['crop']}, batch {r['batch']} (no landmarks)",
                   f"{r['images_per_s']:.1f} img/s (bf16 {r['bf16']}; dlib's landmark side not measured: no dlib here)")
    for r in measure_single("compile", base, budget, report):
        what = "eager" if r["mode"] == "eager" else f"torch.compile mode={r['mode']}, backend {r['backend']}"
        report.add(f"G2RL step, batch {size['batches'][0]}, {what}",
                   f"{r['images_per_s']:.1f} img/s; first 3 steps {r['first_steps_s']:.1f} s")
    report.save()
    print("\n" + report.table(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
