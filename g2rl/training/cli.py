"""`g2rl train`: train one fold of Baseline or G2RL from the HDF5 cache.

    g2rl train --crops results/disfa/cache/crops.h5 --heatmaps results/disfa/cache/heatmaps.h5 \\
        --test-split 1 --out results/disfa/train/g2rl/sigma2/lambda0.05/fold1/seed0 \\
        --method g2rl --lambda 0.05 --sigma 2 --backbone resnet18 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from g2rl.cli_lists import WordList
from g2rl.config_ranges import check_options
from g2rl.errors import ConfigError
from g2rl.model.config import MODEL_OPTION_RANGES, add_model_arguments, model_config_from_args
from g2rl.paths import ensure_writable_dir, refuse_output_over_input
from g2rl.preprocess.map_renderer import HEATMAP_SOURCES
from g2rl.training.gpu_slots import LOCK_DIR_ENV, GpuSlots, place
from g2rl.training.settings import AMP_MODES, SWITCH_MODES, TrainSettings

_DEFAULT = TrainSettings()

# option (dest) -> the config key whose range it takes (the schema, g2rl.config_ranges: one table for both)
OPTION_RANGES = {
    "epochs": "train.epochs", "batch_size": "train.batch_size", "lr": "train.lr",
    "lr_step_epochs": "train.lr_step_epochs", "lr_gamma": "train.lr_gamma", "weight_decay": "train.weight_decay",
    "max_train_samples": "train.max_train_samples", "in_memory_max_mb": "train.in_memory_max_mb",
    "jobs_per_gpu": "train.jobs_per_gpu", "seed": "experiments.seeds", "sigma": "experiments.sigma",
    "lambda_g": ("--lambda", "experiments.lambda"), **MODEL_OPTION_RANGES,
}


# the config's default (g2rl/resources/config.schema.yaml model.pretrained), so a bare `g2rl train`
# initialises as the workflow does; 'none' asks for random weights
PRETRAINED_DEFAULT = "imagenet"
RANDOM_INIT_WORDS = ("none", "null")


def pretrained_from_arg(value: str | None) -> str | None:
    """--pretrained's value as TrainSettings.pretrained: 'none' / 'null' (any case) -> None (random init)."""
    return None if value is None or value.strip().lower() in RANDOM_INIT_WORDS else value


def worker_count(value: str) -> int | str:
    """--num-workers: 'auto' or an integer >= 0."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 0, got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 0, got {value!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = _DEFAULT
    parser.add_argument("--crops", required=True, metavar="FILE.h5", help="crops HDF5 cache (g2rl.preprocess)")
    parser.add_argument("--heatmaps", required=True, metavar="FILE.h5", help="heatmaps HDF5 cache holding the chosen sigma")
    parser.add_argument("--test-split", required=True, metavar="SPLIT", help="test part: DISFA 1/2/3, BP4D devel")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (model.pt, train_log.csv, predictions.csv)")
    parser.add_argument("--method", choices=("baseline", "g2rl"), default="g2rl", help="baseline: heatmap loss only (lambda 0); g2rl: Eq. 8 with --lambda")
    parser.add_argument("--lambda", dest="lambda_g", type=float, default=d.lambda_g, help="weight of L_G in Eq. 8 (g2rl only)")
    parser.add_argument("--sigma", type=float, default=d.sigma, help="heatmap sigma in heatmap pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, sampling order and subsets")
    parser.add_argument(
        "--device", default="auto",
        help="auto (CUDA if available, else CPU) | cpu | cuda | cuda:N; cuda fails when CUDA is unusable",
    )
    parser.add_argument(
        "--jobs-per-gpu", type=int, default=GpuSlots.jobs_per_gpu,
        help="--device cuda (or auto on a CUDA machine) without an index: trainings allowed on one card at once; "
             "each training takes a free card slot (g2rl.training.gpu_slots) and waits while all are taken",
    )
    parser.add_argument(
        "--gpu-lock-dir", default=None,
        help=f"folder of the card slots' lock files, shared by the trainings of one machine; "
             f"None = ${LOCK_DIR_ENV}, else ${{TMPDIR:-/tmp}}/g2rl-gpu-slots-uid<uid>",
    )
    parser.add_argument(
        "--pretrained", default=PRETRAINED_DEFAULT,
        help="imagenet | imagenet_v1 | imagenet_v2 (torchvision, via the torch hub cache) or a state-dict file "
        "(the config's model.pretrained); none = random initialisation, refused on non-demo data without "
        "--allow-random-init",
    )
    parser.add_argument("--allow-random-init", action="store_true", help="train from random weights on real data")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training rows")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="samples per optimiser step")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    parser.add_argument(
        "--lr-step-epochs", action=WordList, item_type=int, collect=tuple, allow_empty=True, default=d.lr_step_epochs,
        metavar="EPOCH", help="epoch counts after which the lr is multiplied by --lr-gamma (5: from the 6th epoch "
        "on), e.g. 5 or 5 8 (commas also separate); none = a constant lr",
    )
    parser.add_argument("--lr-gamma", type=float, default=d.lr_gamma, help="lr factor at each step epoch")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay")
    parser.add_argument("--num-workers", type=worker_count, default=d.num_workers, metavar="N|auto",
                        help="DataLoader worker processes reading the HDF5 cache; auto = the CPUs this job may use "
                             "(affinity, SLURM_CPUS_PER_TASK) minus one; a fold held in memory needs none")
    parser.add_argument(
        "--max-train-samples", type=int, default=d.max_train_samples,
        help="cap on training rows per epoch: the first N of each epoch's seeded shuffle, a fresh random subset "
             "every epoch (demo and smoke runs); None = all",
    )
    parser.add_argument("--amp", choices=AMP_MODES, default=d.amp, help="bf16 autocast; auto = where it pays")
    parser.add_argument(
        "--channels-last", choices=SWITCH_MODES, default=d.channels_last,
        help="channels_last memory format; auto = together with bf16",
    )
    parser.add_argument(
        "--in-memory", choices=SWITCH_MODES, default=d.in_memory,
        help="hold the fold's cache rows in memory as tensors; auto = when they fit --in-memory-max-mb",
    )
    parser.add_argument("--in-memory-max-mb", type=float, default=d.in_memory_max_mb, help="MiB limit of in-memory auto")
    parser.add_argument(
        "--heatmap-source", choices=HEATMAP_SOURCES, default=d.heatmap_source,
        help="target maps read from --heatmaps (cache), or rendered from the AU points on the training device "
             "(device: equal to the file's, checked on a sample of rows; for GPUs, saves reading and inflating them)",
    )
    parser.add_argument("--log", default=None, metavar="FILE", help="also append progress to this text file")
    parser.add_argument("--keep-resume-checkpoint", action="store_true", help="keep last.pt after success")
    parser.add_argument("--on-stale-resume", choices=("refuse", "restart"), default="refuse",
                        help="when OUT/last.pt was made by another run (other data, split, settings or seed): "
                             "refuse (default) or restart from epoch 0 (the workflow's choice)")
    add_model_arguments(parser)


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    # every number within its config key's range first: one line naming the option (--lambda: G2RL only)
    check_options(args, OPTION_RANGES, skip=("lambda_g",) if args.method == "baseline" else ())
    if args.method == "baseline":
        lambda_g = 0.0
    else:
        if args.lambda_g <= 0:
            raise ConfigError("--method g2rl needs --lambda > 0 (lambda 0 is --method baseline)")
        lambda_g = args.lambda_g
    return TrainSettings(
        model=model_config_from_args(args), pretrained=pretrained_from_arg(args.pretrained), allow_random_init=args.allow_random_init,
        lambda_g=lambda_g, sigma=args.sigma, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, lr_step_epochs=args.lr_step_epochs,
        lr_gamma=args.lr_gamma, weight_decay=args.weight_decay, num_workers=args.num_workers,
        max_train_samples=args.max_train_samples, amp=args.amp, channels_last=args.channels_last,
        in_memory=args.in_memory, in_memory_max_mb=args.in_memory_max_mb, heatmap_source=args.heatmap_source,
    )  # fmt: skip


def interrupted_note(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves (g2rl.cli prints it): last.pt after each finished epoch, which the same
    command continues from."""
    last = Path(args.out) / "last.pt"
    if last.is_file():
        return f"{last} holds the last finished epoch: run the same command again to resume from it"
    return f"no epoch had finished, nothing to resume ({Path(args.out) / 'model.pt'} was not written)"


def main(args: argparse.Namespace) -> int:
    from g2rl.training.device import resolve_device
    from g2rl.training.loop import train_fold

    settings = settings_from_args(args)
    device = resolve_device(args.device)  # an unusable --device cuda fails now, before the caches are read
    slots = GpuSlots(args.jobs_per_gpu, args.gpu_lock_dir)
    outputs = {f"--out {name}": Path(args.out) / name for name in ("model.pt", "predictions.csv", "train_log.csv")}
    refuse_output_over_input("train", outputs, {"--crops": args.crops, "--heatmaps": args.heatmaps}, appended={"--log": args.log})
    ensure_writable_dir(args.out)  # a read-only or forbidden --out fails now, not after training
    # last of the checks, since it may wait for a card; the slot is held until this process ends
    placement = place(device, slots)
    logging.getLogger(__name__).info("device %s: %s", placement.device, placement.how)
    summary = train_fold(
        args.crops, args.heatmaps, args.test_split, args.out, settings, args.seed,
        device=placement.device, log=args.log, keep_resume_checkpoint=args.keep_resume_checkpoint,
        on_stale_resume=args.on_stale_resume,
    )  # fmt: skip
    logging.getLogger(__name__).info("done: %s", json.dumps(summary, default=str))
    return 0
