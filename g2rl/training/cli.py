"""`g2rl train`: train one fold of Baseline or G2RL from the HDF5 cache.

    g2rl train --crops results/disfa/cache/crops.h5 --heatmaps results/disfa/cache/heatmaps.h5 \\
        --test-split 1 --out results/disfa/train/g2rl/sigma2/lambda0.05/fold1/seed0 \\
        --method g2rl --lambda 0.05 --sigma 2 --backbone resnet18 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import logging

from g2rl.errors import ConfigError
from g2rl.training.settings import TrainSettings

_DEFAULT = TrainSettings()


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.replace(",", " ").split())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = _DEFAULT
    parser.add_argument("--crops", required=True, help="crops HDF5 cache (g2rl.preprocess)")
    parser.add_argument("--heatmaps", required=True, help="heatmaps HDF5 cache holding the chosen sigma")
    parser.add_argument("--test-split", required=True, help="test part: DISFA 1/2/3, BP4D devel")
    parser.add_argument("--out", required=True, help="output folder (model.pt, train_log.csv, predictions.csv)")
    parser.add_argument("--method", choices=("baseline", "g2rl"), default="g2rl", help="baseline = lambda 0")
    parser.add_argument("--lambda", dest="lambda_g", type=float, default=d.lambda_g, help="weight of L_G (Eq. 8)")
    parser.add_argument("--sigma", type=float, default=d.sigma, help="heatmap sigma in heatmap pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--backbone", default=d.backbone)
    parser.add_argument("--pretrained", default=d.pretrained, help="local torchvision ImageNet state dict")
    parser.add_argument("--deconv-channels", type=_ints, default=d.deconv_channels, help="e.g. 256,256,256")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--lr-step-epochs", type=_ints, default=d.lr_step_epochs)
    parser.add_argument("--lr-gamma", type=float, default=d.lr_gamma)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--aux-weight", type=float, default=d.aux_weight)
    parser.add_argument("--num-workers", type=int, default=d.num_workers)
    parser.add_argument("--max-train-samples", type=int, default=d.max_train_samples)
    parser.add_argument("--amp", choices=("auto", "bf16", "off"), default=d.amp)
    parser.add_argument("--channels-last", choices=("auto", "on", "off"), default=d.channels_last)
    parser.add_argument("--log", default=None, help="also append progress to this text file")
    parser.add_argument("--keep-resume-checkpoint", action="store_true", help="keep last.pt after success")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    if args.method == "baseline":
        lambda_g = 0.0
    else:
        if args.lambda_g <= 0:
            raise ConfigError("--method g2rl needs --lambda > 0 (lambda 0 is --method baseline)")
        lambda_g = args.lambda_g
    return TrainSettings(
        backbone=args.backbone, pretrained=args.pretrained, deconv_channels=args.deconv_channels,
        lambda_g=lambda_g, sigma=args.sigma, aux_weight=args.aux_weight, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, lr_step_epochs=args.lr_step_epochs,
        lr_gamma=args.lr_gamma, weight_decay=args.weight_decay, num_workers=args.num_workers,
        max_train_samples=args.max_train_samples, amp=args.amp, channels_last=args.channels_last,
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from g2rl.training.loop import train_fold

    settings = settings_from_args(args)
    summary = train_fold(
        args.crops, args.heatmaps, args.test_split, args.out, settings, args.seed,
        device=args.device, log=args.log, keep_resume_checkpoint=args.keep_resume_checkpoint,
    )  # fmt: skip
    logging.getLogger(__name__).info("done: %s", json.dumps(summary, default=str))
    return 0
