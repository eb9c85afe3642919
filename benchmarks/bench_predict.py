"""`g2rl predict` throughput: end-to-end frames/s on a video and where the time goes.

For each model (the paper's ResNet-50 @ 256 px and the demo's ResNet-18 @ 128 px, both with
12 AU maps and 256-channel deconvolutions, random weights: speed does not depend on the weights)
it writes an inference checkpoint with training's own writer, loads it the way `g2rl predict`
does, and runs the real pipeline (g2rl.predict.pipeline.predict_inputs) over the first
``--frames`` frames of the video. Printed per model: end-to-end frames/s and the split between
pass 1 (decode + dlib landmarks), pass 2 (decode again + affine warp) and the network
(normalise + forward + decode maxima), plus the network alone on ready crops in float32 and with
bf16 autocast. Uses CUDA when present (then bf16 autocast there), unchanged.

    python benchmarks/bench_predict.py --video /tmp/pyfeat_dl/videos/WolfgangLanger_Pexels.mp4 --frames 150

The one-time start-up (oneDNN/cuDNN kernel selection) is excluded by a warm-up batch, as it
would be amortised over any real video.
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

MODELS = {  # name: (backbone, crop size)
    "paper (resnet50 @ 256)": ("resnet50", 256),
    "demo (resnet18 @ 128)": ("resnet18", 128),
}
AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]


def write_checkpoint(path: Path, backbone: str, crop: int) -> None:
    import torch

    from g2rl.model.backbone import HeatmapNet
    from g2rl.preprocess.dataset import IMAGENET_MEAN, IMAGENET_STD
    from g2rl.training.checkpoint import save_inference_checkpoint

    torch.manual_seed(0)
    net = HeatmapNet(len(AUS), backbone, None, (256, 256, 256), warn_random=False)
    meta = {
        "dataset": "bench", "aus": AUS, "crop_size": crop, "heatmap_size": crop // 4, "sigma": 2.0,
        "backbone": backbone, "deconv_channels": [256, 256, 256], "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD), "au_points": None, "method": "baseline", "lambda_g": 0.0,
    }
    save_inference_checkpoint(path, net, meta)


def network_only(models: dict, batch_size: int, repeats: int) -> dict:
    """Median images/s of AUModel.predict on random crops, per model; the models' batches are
    interleaved so that a change in the machine's load hits all of them alike (one warm-up each)."""
    crop = next(iter(models.values())).crop_size
    crops = np.random.default_rng(0).integers(0, 256, (batch_size, crop, crop, 3), np.uint8)
    rates: dict = {name: [] for name in models}
    for model in models.values():
        model.predict(crops)
    for _ in range(repeats):
        for name, model in models.items():
            t = time.perf_counter()
            model.predict(crops)
            rates[name].append(batch_size / (time.perf_counter() - t))
    return {name: float(np.median(r)) for name, r in rates.items()}


def main() -> None:
    import torch

    from g2rl.media import video_info
    from g2rl.predict.model import load_au_model
    from g2rl.predict.pipeline import predict_inputs
    from g2rl.preprocess.landmarks import LandmarkDetector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, required=True, help="a video of a person (e.g. 640x360)")
    ap.add_argument("--frames", type=int, default=150, help="frames of the video to run (default 150)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--net-repeats", type=int, default=5, help="batches timed for the network-only figures")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    count, fps, w, h = video_info(args.video)
    print(f"video: {args.video.name} {w}x{h} @ {fps:.2f} fps, {count} frames; using the first {args.frames}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"cuda: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"batch size {args.batch_size}; landmarks: fast tracked path (LandmarkDetector defaults)\n")

    detector = LandmarkDetector()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            backbone, crop = MODELS[name]
            ckpt = Path(tmp) / f"{backbone}_{crop}.pt"
            write_checkpoint(ckpt, backbone, crop)
            model = load_au_model(ckpt, device=args.device, amp="auto")
            model32 = load_au_model(ckpt, device=args.device, amp="off")
            net = network_only({"auto": model, "fp32": model32}, args.batch_size, args.net_repeats)
            del model32
            result = predict_inputs(model, detector, [args.video], batch_size=args.batch_size,
                                    max_frames=args.frames, progress=False)
            st = result.stats
            other = st.seconds_total - st.seconds_landmarks - st.seconds_align - st.seconds_network
            print(f"{name}: device {model.device}, {'bf16 autocast + channels_last' if model.bf16 else 'float32'}")
            print(f"  end to end: {st.frames} frames ({st.faces} with a face) in {st.seconds_total:.2f} s = "
                  f"{st.frames / st.seconds_total:.1f} frames/s")
            for label, sec in (("pass 1: decode + landmarks", st.seconds_landmarks),
                               ("pass 2: decode + align", st.seconds_align),
                               ("network (+ decode maxima)", st.seconds_network), ("other", other)):
                print(f"    {label:28s} {sec:7.2f} s  {100 * sec / st.seconds_total:5.1f} %  "
                      f"{1000 * sec / max(st.frames, 1):7.2f} ms/frame")
            print(f"  network alone on ready crops (median of {args.net_repeats} interleaved batches): "
                  f"{net['auto']:.1f} img/s ({'bf16' if model.bf16 else 'fp32'}), {net['fp32']:.1f} img/s (fp32)\n")
            del model
    print(f"load average at end {os.getloadavg()[0]:.2f} (other jobs shared the cores)")


if __name__ == "__main__":
    main()
