"""Where one training step's time goes: data, host->device, forward parts, backward, optimiser.

    python benchmarks/profile_train_step.py --crops results/disfa/cache/crops.h5 \\
        --heatmaps results/disfa/cache/heatmaps_sigma2.h5 --backbone resnet18 --deconv 64 --threads 1
    python benchmarks/profile_train_step.py --synthetic 64 ...     # no cache: random tensors of that crop size
    python benchmarks/profile_train_step.py ... --ops 15           # also torch.profiler's top ops (self CPU time)
    python benchmarks/profile_train_step.py ... --adam foreach fused --clock cpu   # Adam kernels, CPU time

The step is the one of g2rl.training.step (same model, autocast, channels_last, batches converted on
the device by g2rl.training.feed.to_device), with time stamps between the phases. Forward is split by module hooks into trunk (ResNet), deconv
head + 1x1 conv, and the G2RL-only parts (geometry module, projection, auxiliary head); the rest
of the forward (losses) is "loss". Each phase is wall time on the host; on CUDA every stamp is
synchronised (slower than a real run, but the split is real). The data phase is measured with the
HDF5 batch path (``--data hdf5``) or rows held in memory (``--data memory``) or both.
Prints one table per (method, data path): ms per step and share of the step.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict

import numpy as np
import torch

from g2rl.model import G2RLModel
from g2rl.model.config import ModelConfig
from g2rl.training.device import autocast, resolve_device, use_bf16, use_channels_last
from g2rl.training.feed import to_device

K_SYNTH = 12


class _Stamps:
    """Accumulates wall time per phase; on CUDA each stamp waits for the device."""

    def __init__(self, dev, clock=time.perf_counter):
        self.dev, self.acc, self.t, self.clock = dev, defaultdict(float), 0.0, clock

    def start(self):
        self._sync()
        self.t = self.clock()

    def mark(self, name):
        self._sync()
        now = self.clock()
        self.acc[name] += now - self.t
        self.t = now

    def _sync(self):
        if self.dev.type == "cuda":
            torch.cuda.synchronize()


def _hook_forward(model, stamps):
    """Forward pre/post hooks that bill the time inside each named part to that part."""
    parts = {"trunk": model.net.trunk, "deconv+final": (model.net.deconv, model.net.final)}
    if model.guided:  # the teacher head exists for the stopgrad_aux guidance only
        parts["geometry+projection"] = tuple(
            getattr(model, n) for n in ("geometry", "projection", "teach_head") if hasattr(model, n)
        )
    for name, mods in parts.items():
        for mod in mods if isinstance(mods, tuple) else (mods,):
            mod.register_forward_pre_hook(lambda *_: stamps.mark("loss/other forward"))
            mod.register_forward_hook(lambda *_, n=name: stamps.mark(f"forward: {n}"))


def _synthetic_rows(n, crop):
    """n random rows of a cache of crop size ``crop``, held in memory (g2rl.preprocess.batches fields)."""
    from g2rl.preprocess.batches import RowBatches

    rng = np.random.default_rng(0)
    return RowBatches({
        "image": rng.integers(0, 256, size=(n, crop, crop, 3), dtype=np.uint8),
        "heatmaps": (rng.random((n, K_SYNTH, crop // 4, crop // 4)) * 0.05).astype(np.float16),
        "intensity": (rng.random((n, K_SYNTH)) * 5).astype(np.float32),
        "landmarks": (rng.random((n, 68, 2)) * crop * 0.6 + crop * 0.2).astype(np.float32),
        "row": np.arange(n, dtype=np.int64),
    })  # fmt: skip


def _batches(args, kind, n_steps):
    """An iterator of batches as stored: 'hdf5' = whole batches read from the cache (by --num-workers
    processes), 'memory' = the rows held in memory (g2rl.training.feed.BatchFeed either way)."""
    from g2rl.preprocess.batches import open_cache_rows
    from g2rl.training.feed import BatchFeed

    order = torch.randperm(n_steps * args.batch, generator=torch.Generator().manual_seed(0))
    if args.synthetic:
        rows, k, crop = _synthetic_rows(len(order), args.synthetic), K_SYNTH, args.synthetic
    else:
        rows = open_cache_rows(args.crops, args.heatmaps, in_memory="on" if kind == "memory" else "off")
        k, crop = len(rows.attrs["aus"]), rows.crop_size
    order = order % len(rows)
    return iter(BatchFeed(rows, args.batch, args.num_workers).epoch(order)), k, crop


def profile(args, method, kind, dev, adam="foreach"):
    torch.manual_seed(0)
    n_steps = args.steps + args.warmup
    t_load = time.perf_counter()
    batches, k, crop = _batches(args, kind, n_steps)
    t_load = time.perf_counter() - t_load
    lam = 0.05 if method == "g2rl" else 0.0
    model = G2RLModel(ModelConfig(backbone=args.backbone, deconv_channels=(args.deconv,) * 3), k, lam).to(dev)
    bf16 = use_bf16(dev, args.amp)
    cl = use_channels_last(dev, "auto", bf16)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    fused = {"fused": True, "foreach": None}[adam]
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-5, fused=fused, foreach=not fused)
    model.train()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    stamps = _Stamps(dev, clock)
    _hook_forward(model, stamps)
    total = 0.0
    for step in range(n_steps):
        if step == args.warmup:
            stamps.acc.clear()
            t0 = clock()
        stamps.start()
        batch = next(batches)
        stamps.mark("data (fetch)")
        b = to_device(batch, dev, cl)
        stamps.mark("to device + normalise")
        with autocast(dev, bf16):
            terms = model(b["image"], b["heatmaps"], b["intensity"], b.get("landmarks"))
        stamps.mark("loss/other forward")
        opt.zero_grad(set_to_none=True)
        stamps.mark("loss/other forward")
        terms.total.backward()
        stamps.mark("backward")
        opt.step()
        stamps.mark("optimizer (Adam)")
    total = clock() - t0
    return stamps.acc, total, t_load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops")
    ap.add_argument("--heatmaps")
    ap.add_argument("--synthetic", type=int, default=0, help="crop size of random tensors instead of a cache")
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--deconv", type=int, default=64, help="deconv width (x3)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", nargs="+", default=["baseline", "g2rl"], choices=["baseline", "g2rl"])
    ap.add_argument("--data", nargs="+", default=["hdf5", "memory"], choices=["hdf5", "memory"])
    ap.add_argument("--adam", nargs="+", default=["fused"], choices=["fused", "foreach"],
                    help="Adam implementation(s); the loop uses fused on CPU and CUDA")
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="cpu = process time: on a shared machine, less sensitive to other jobs (1 thread only)")
    ap.add_argument("--ops", type=int, default=0, help="also print torch.profiler's N most expensive ops")
    args = ap.parse_args()
    if not args.synthetic and not (args.crops and args.heatmaps):
        ap.error("give --crops and --heatmaps, or --synthetic CROP")
    torch.set_num_threads(args.threads)
    logging.getLogger("g2rl.model.backbone").setLevel(logging.ERROR)
    dev = resolve_device(args.device)
    print(f"# torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, {args.backbone} "
          f"deconv {args.deconv}x3, batch {args.batch}, amp {args.amp}, {args.steps} steps after {args.warmup}")
    for method in args.methods:
        for kind in args.data:
            for adam in args.adam:
                acc, total, t_load = profile(args, method, kind, dev, adam)
                print(f"\n{method}, data from {kind}, Adam {adam} (set-up {t_load:.2f} s): "
                      f"{args.batch * args.steps / total:.1f} img/{'CPU-' if args.clock == 'cpu' else ''}s, "
                      f"{1000 * total / args.steps:.1f} ms/step ({args.clock} time)")
                for name, sec in sorted(acc.items(), key=lambda kv: -kv[1]):
                    print(f"  {name:28s} {1000 * sec / args.steps:8.2f} ms  {100 * sec / total:5.1f} %")
    if args.ops:
        args.steps, args.warmup = 5, 2
        from torch.profiler import ProfilerActivity, profile as tprofile

        with tprofile(activities=[ProfilerActivity.CPU]) as prof:
            profile(args, args.methods[-1], args.data[-1], dev)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.ops))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
