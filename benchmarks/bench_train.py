"""Training throughput (images/s) of Baseline and G2RL steps, fp32 vs bf16 autocast + channels_last.

    python benchmarks/bench_train.py                       # demo + paper configs on this machine
    python benchmarks/bench_train.py --configs resnet18@128 --steps 10
    python benchmarks/bench_train.py --configs resnet18@64 --deconv 64,64,64 64,64 --threads 1   # demo heads
    python benchmarks/bench_train.py --configs resnet18@64 --deconv 64,64 --compile   # + torch.compile

Each measurement: `--warmup` untimed steps, then `--steps` timed optimizer steps (forward, losses,
backward, Adam) on random tensors already on the device (the data path is benchmarks/bench_loader.py's
and gpu_check.py's). On the CPU the times are CPU time of this process, on CUDA wall time with the
device synchronised at the end. With `--compile` each model is also run through torch.compile
(default mode); the line then gives the compiled images/s and the seconds the warm-up steps took,
which is the compilation's one-off cost per process. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402

from g2rl.model import G2RLModel, ModelConfig
from g2rl.training.device import autocast, cpu_has_native_bf16, resolve_device

K = 12  # DISFA's AU count


def _batch(b, crop, dev):
    lm = torch.rand(b, 68, 2) * crop * 0.6 + crop * 0.2
    return (
        torch.randn(b, 3, crop, crop, device=dev),
        torch.rand(b, K, crop // 4, crop // 4, device=dev) * 0.05,
        torch.rand(b, K, device=dev) * 5,
        lm.to(dev),
    )


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(backbone, crop, bf16, lambda_g, dev, batch, steps, warmup, deconv=(256, 256, 256), compile_model=False):
    """(images/s over the timed steps, nan, seconds of the warm-up steps). On the CPU both are CPU time of
    this process (other jobs on a shared machine barely change it; with one torch thread it is the step's
    cost), on CUDA wall time with the device synchronised."""
    torch.manual_seed(0)
    model = G2RLModel(ModelConfig(backbone=backbone, deconv_channels=tuple(deconv)), K, lambda_g).to(dev)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-5, fused=True)
    model.train()
    forward = torch.compile(model) if compile_model else model

    def step(x, h, i, lm):
        if bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, bf16):
            t = forward(x, h, i, lm)
        opt.zero_grad(set_to_none=True)
        t.total.backward()
        opt.step()

    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    data = _batch(batch, crop, dev)
    t_warm = clock()
    for _ in range(warmup):
        step(*data)
    _sync(dev)
    t0 = clock()
    for _ in range(steps):
        step(*data)
    _sync(dev)
    return batch * steps / (clock() - t0), float("nan"), t0 - t_warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["resnet18@128", "resnet18@96", "resnet50@256"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--methods", nargs="+", default=["baseline", "g2rl"], choices=["baseline", "g2rl"])
    ap.add_argument("--deconv", nargs="+", default=["256,256,256"],
                    help="deconvolution widths to compare, e.g. 64,64,64 (whole ResNet) 64,64 (trunk ends at layer3)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--compile", action="store_true", help="also measure each model under torch.compile")
    ap.add_argument("--record", help="write benchmarks/records/RECORD.json")
    args = ap.parse_args()
    rec = Record("bench_train", vars(args))
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    # random init is intended here (speed only); keep the per-model warning out of the table
    logging.getLogger("g2rl.model.backbone").setLevel(logging.ERROR)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{platform.processor() or 'cpu'}"
    print(
        f"# torch {torch.__version__}, device {dev} ({where}), threads {torch.get_num_threads()}, "
        f"cpus {os.cpu_count()}, native CPU bf16 {cpu_has_native_bf16()}, batch {args.batch}, "
        f"steps {args.steps} after {args.warmup} warm-up, K={K}, fused Adam, random init"
    )
    clock = "wall, device synchronised" if dev.type == "cuda" else "CPU time of this process"
    print(f"config        deconv        precision  method    images/s ({clock})")
    for cfg in args.configs:
        backbone, crop = cfg.split("@")
        for widths in args.deconv:
            deconv = tuple(int(w) for w in widths.split(","))
            for prec in args.precision:
                for method in args.methods:
                    lam = 0.05 if method == "g2rl" else 0.0
                    common = (backbone, int(crop), prec == "bf16", lam, dev, args.batch, args.steps, args.warmup)
                    ips, _, warm_eager = measure(*common, deconv=deconv)
                    line = f"{cfg:13s} {widths:13s} {prec:9s}  {method:8s}  {ips:8.2f}"
                    result = {"images_per_s": ips, "warm_up_s": warm_eager}
                    if args.compile:
                        ips3, _, warm_s = measure(*common, deconv=deconv, compile_model=True)
                        line += f"  compiled: {ips3:.2f} img/s after {warm_s:.1f} s of warm-up ({args.warmup} steps)"
                        result.update(compiled_images_per_s=ips3, compiled_warm_up_s=warm_s)
                    rec.data["results"][f"{cfg} {widths} {prec} {method}"] = result
                    print(line, flush=True)
    if args.record:
        rec.write(args.record)


if __name__ == "__main__":
    main()
