"""GPU readiness in one run: training img/s, time waiting for data, trainings per GPU, predict frames/s.

    python benchmarks/gpu_check.py --crops C.h5 --heatmaps H.h5 [--video V.avi]        # paper scale
    python benchmarks/gpu_check.py --crops C.h5 --heatmaps H.h5 --smoke --device cpu  # tiny, any machine

benchmarks/gpu_check.sh builds a 256 px cache from the demo data and calls this. Measured, each in
its own subprocess under ``--timeout`` seconds (a hung or too slow part prints "timeout" and the
rest still runs):

1. training img/s, bf16 autocast + channels_last, Baseline and G2RL, random tensors already on the
   device (the compute ceiling; bench_train.measure);
2. the share of each step spent waiting for the next batch when a DataLoader over the HDF5 cache
   with 4 / 8 / 16 workers feeds the same training step (G2RL), and the img/s it reaches;
3. 1 / 2 / 4 trainings sharing the device, started together: img/s per training and in total;
4. predict frames/s end to end on ``--video`` (benchmarks/bench_predict.py, paper model);
5. card placement (g2rl.training.gpu_slots): cards x ``--jobs-per-gpu`` probes started together, each
   takes a slot as `g2rl train --device cuda` does, touches its card and prints which it got; on a
   machine with several cards, as many G2RL trainings placed the same way, with their img/s.

``--smoke`` shrinks every part (ResNet-18 @ the cache's crop size, narrow deconvs, 2 steps,
1 loader worker, 2 trainings at once; placement on 2 simulated cards) so the script itself can be
tested on a CPU.
Prints one table; figures are host wall time with the device synchronised after every step.
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
PAPER = {"backbone": "resnet50", "deconv": [256, 256, 256], "batch": 16, "steps": 30, "warmup": 5,
         "workers": [4, 8, 16], "trainings": [1, 2, 4]}  # fmt: skip
# one case per kind of measurement (a worker process, two trainings at once), as few interpreters as possible
SMOKE = {"backbone": "resnet18", "deconv": [8, 8, 8], "batch": 2, "steps": 2, "warmup": 1,
         "workers": [1], "trainings": [2]}  # fmt: skip


def _model(spec, lambda_g, k, dev):
    import torch

    from g2rl.model import G2RLModel
    from g2rl.model.config import ModelConfig

    config = ModelConfig(backbone=spec["backbone"], deconv_channels=tuple(spec["deconv"]))
    model = G2RLModel(config, k, lambda_g).to(dev)
    if spec["bf16"]:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-5)


def _placed(spec) -> str:
    """spec's device, or with spec["slots"] the card `g2rl train` would place this process on."""
    if "slots" not in spec:
        return spec["device"]
    from g2rl.training.gpu_slots import GpuSlots, place

    sim = spec["slots"].get("simulated_cards")  # --smoke: cards that are not there (nothing touches them)
    count = {"device_count": lambda: sim} if sim else {}
    return place(spec["device"], GpuSlots(spec["slots"]["jobs_per_gpu"], spec["slots"]["lock_dir"]), **count).device


def part_place(spec) -> dict:
    """Take a card slot, touch the card (a real one), keep the slot until every probe has one."""
    device = _placed(spec)
    if not spec["slots"].get("simulated_cards"):
        import torch

        torch.ones(1, device=device).sum().item()  # the card it got is usable
    # a barrier: a probe that let go early would free its slot for a later one and skew the count
    barrier = Path(spec["barrier"])
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < spec["probes"]:
        time.sleep(0.05)
    return {"device": device}


def part_train(spec) -> dict:
    """Compute ceiling: steps on random tensors already on the device."""
    sys.path.insert(0, str(HERE))
    from bench_train import measure

    from g2rl.training.device import resolve_device

    dev = resolve_device(_placed(spec))
    lam = 0.05 if spec["method"] == "g2rl" else 0.0
    ips, _, _ = measure(spec["backbone"], spec["crop"], spec["bf16"], lam, dev, spec["batch"], spec["steps"],
                     spec["warmup"], deconv=tuple(spec["deconv"]))  # fmt: skip
    return {"images_per_s": ips, "device": str(dev)}


def part_loader(spec) -> dict:
    """The training step fed from the HDF5 cache by a DataLoader with spec['workers'] workers."""
    import torch

    from g2rl.preprocess.dataset import CacheDataset
    from g2rl.preprocess.memory import batch_iterator
    from g2rl.training.device import autocast, resolve_device
    from g2rl.training.loop import _to_device

    dev = resolve_device(spec["device"])
    ds = CacheDataset(spec["crops"], spec["heatmaps"])
    model, opt = _model(spec, 0.05, len(ds.aus), dev)
    n = spec["batch"] * (spec["steps"] + spec["warmup"])
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0)).repeat(n // len(ds) + 1)[:n]
    batches = batch_iterator(ds, order, spec["batch"], spec["workers"], pin_memory=dev.type == "cuda")
    wait = total = 0.0
    images = 0
    t_prev = time.perf_counter()
    for step, batch in enumerate(batches):
        t_got = time.perf_counter()
        b = _to_device(batch, dev, spec["bf16"])
        with autocast(dev, spec["bf16"]):
            terms = model(b["image"], b["heatmaps"], b["intensity"], b["landmarks"])
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t_done = time.perf_counter()
        if step >= spec["warmup"]:  # worker start-up and first batches excluded
            wait += t_got - t_prev
            total += t_done - t_prev
            images += b["image"].shape[0]
        t_prev = t_done
    return {"images_per_s": images / total, "wait_share": wait / total}


def _run_part(spec: dict, timeout: float) -> dict:
    """Run one part in a fresh interpreter (its own CUDA context), killed after ``timeout`` s."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:120]}


def _concurrent(spec: dict, n: int, timeout: float) -> list[dict]:
    """n copies of one part started together; each reports its own result (img/s, device)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", json.dumps(spec)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(n)]
    out, deadline = [], time.monotonic() + timeout
    for p in procs:
        try:
            stdout, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
            out.append(json.loads(lines[-1]) if lines else {"error": f"exit {p.returncode}"})
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            out.append({"error": f"timeout after {timeout:g} s"})
    return out


def _placement_rows(base: dict, smoke: bool, jobs_per_gpu: int, timeout: float) -> list[tuple[str, str]]:
    """Cards x jobs_per_gpu placement probes at once (each card must get jobs_per_gpu of them); with
    several real cards also that many G2RL trainings placed the same way."""
    import torch

    cards = 2 if smoke else (torch.cuda.device_count() if base["device"].startswith("cuda") else 0)
    if not cards:
        return [("card placement", "skipped: no CUDA device")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="g2rl_gpu_slots_") as scratch:  # apart from real trainings' slots
        locks, barrier = Path(scratch, "locks"), Path(scratch, "placed")
        barrier.mkdir()
        slots = {"jobs_per_gpu": jobs_per_gpu, "lock_dir": str(locks), **({"simulated_cards": cards} if smoke else {})}
        n = cards * jobs_per_gpu
        probe = {**base, "device": "cuda", "kind": "place", "slots": slots, "barrier": str(barrier), "probes": n}
        rs = _concurrent(probe, n, timeout)
        got = Counter(r.get("device", r.get("error")) for r in rs)
        even = sorted(got) == [f"cuda:{i}" for i in range(cards)] and set(got.values()) == {jobs_per_gpu}
        text = ", ".join(f"{d} x{c}" for d, c in sorted(got.items())) + (": ok" if even else ": UNEVEN")
        rows.append((f"placement, {n} jobs on {cards}{' simulated' if smoke else ''} card(s) x {jobs_per_gpu}", text))
        print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
        if cards > 1 and not smoke:
            rs = _concurrent({**base, "device": "cuda", "kind": "train", "method": "g2rl", "slots": slots}, n, timeout)
            ok = [r for r in rs if "images_per_s" in r]
            where = ", ".join(sorted(r["device"] for r in ok))
            text = (f"{sum(r['images_per_s'] for r in ok):.1f} img/s in total on {where}" if len(ok) == n
                    else f"failed: {next((r['error'] for r in rs if 'error' in r), 'no output')}")  # fmt: skip
            rows.append((f"{n} G2RL trainings placed on {cards} cards", text))
            print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
    return rows


def _fmt(r: dict, key: str, scale: float = 1.0, unit: str = "") -> str:
    return r["error"] if "error" in r else f"{r[key] * scale:.1f}{unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", help="crops cache (256 px for paper-scale figures)")
    ap.add_argument("--heatmaps", help="heatmaps cache built from --crops")
    ap.add_argument("--video", help="a video with a face, for predict frames/s (optional)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--smoke", action="store_true", help="tiny settings: checks the script, not the machine")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per part")
    ap.add_argument("--jobs-per-gpu", type=int, default=2, help="card slots of the placement case")
    ap.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part, print JSON
    args = ap.parse_args()
    if args.part:
        spec = json.loads(args.part)
        parts = {"train": part_train, "loader": part_loader, "place": part_place}
        print(json.dumps(parts[spec["kind"]](spec)), flush=True)
        return 0
    if not (args.crops and args.heatmaps):
        ap.error("--crops and --heatmaps are required")
    import torch

    from g2rl.preprocess.dataset import read_cache_attrs

    crop = int(read_cache_attrs(args.crops)["crop_size"])
    size = dict(SMOKE if args.smoke else PAPER)
    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device)
    base = {**size, "crop": crop, "device": dev, "bf16": True, "crops": args.crops, "heatmaps": args.heatmaps}
    where = torch.cuda.get_device_name(0) if dev.startswith("cuda") else f"CPU, {os.cpu_count()} cores"
    print(f"# gpu_check{' --smoke' if args.smoke else ''}: {where}; torch {torch.__version__}; "
          f"{size['backbone']} @ {crop} px, deconv {size['deconv']}, batch {size['batch']}, "
          f"{size['steps']} steps after {size['warmup']}; bf16 autocast + channels_last", flush=True)
    rows = []
    for method in ("baseline", "g2rl"):
        r = _run_part({**base, "kind": "train", "method": method}, args.timeout)
        rows.append((f"train img/s, {method}, data on device", _fmt(r, "images_per_s")))
        print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
    for w in size["workers"]:
        r = _run_part({**base, "kind": "loader", "workers": w}, args.timeout)
        rows.append((f"G2RL fed by HDF5 loader, {w} workers", f"{_fmt(r, 'images_per_s')} img/s, "
                     f"waiting {_fmt(r, 'wait_share', 100, ' %')}"))  # fmt: skip
        print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
    for n in size["trainings"]:
        rs = _concurrent({**base, "kind": "train", "method": "g2rl"}, n, args.timeout)
        ok = [r["images_per_s"] for r in rs if "images_per_s" in r]
        errors = [r["error"] for r in rs if "error" in r]
        text = (f"{sum(ok):.1f} img/s in total, {min(ok):.1f}-{max(ok):.1f} each" if len(ok) == n
                else f"failed: {errors[0] if errors else 'no output'}")  # fmt: skip
        rows.append((f"{n} G2RL training(s) sharing the device", text))
        print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
    rows += _placement_rows(base, args.smoke, args.jobs_per_gpu, args.timeout)
    if args.video:
        frames = 16 if args.smoke else 300
        models = "demo (resnet18 @ 128)" if args.smoke else "paper (resnet50 @ 256)"
        cmd = [sys.executable, str(HERE / "bench_predict.py"), "--video", args.video, "--frames", str(frames),
               "--models", models, "--device", dev]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            tail = [ln for ln in done.stdout.splitlines() if "frames/s" in ln] or done.stderr.splitlines()[-1:]
            text = " | ".join(ln.strip() for ln in tail[-3:]) or f"exit {done.returncode}"
        except subprocess.TimeoutExpired:
            text = f"timeout after {args.timeout:g} s"
        rows.append((f"predict ({models} model), {frames} frames", text))
        print(f"  {rows[-1][0]:48s} {rows[-1][1]}", flush=True)
    else:
        rows.append(("predict", "skipped: no --video"))
    print("\n| measurement | result |\n|---|---|")
    for name, text in rows:
        print(f"| {name} | {text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
