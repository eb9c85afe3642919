"""One training run: one (dataset, method, sigma, lambda, test split, seed) -> model + log + predictions.

Files written into out_dir, all atomically:
    last.pt          resume checkpoint, after every epoch (removed at the end unless kept)
    train_log.csv    one row per epoch: loss terms (L_teach = loss_teach), lr, throughput, ||G||, G's spread
    predictions.csv  the test split's predictions (docs/CONTRACTS.md)
    diagnostics.json the geometry branch's test score, final L_G and g_spread (g2rl.training.diagnostics)
    model.pt         the inference checkpoint (Baseline parameters + meta)
predictions.csv and model.pt are written last, in that order: model.pt present = run finished.

Reproducibility: every source of randomness is seeded from ``seed``. The shuffle order of epoch
e comes from a generator seeded with (seed, e), not from a generator carried across epochs, so
a run resumed from last.pt after epoch e sees exactly the batches an uninterrupted run sees.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError
from g2rl.model.g2rl_net import G2RLModel
from g2rl.model.weights import resolve_weights
from g2rl.jsonfile import write_json
from g2rl.provenance import sidecar_path, training_record
from g2rl.preprocess.batches import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RowBatches,
    cache_identity,
    open_cache_rows,
    read_cache_attrs,
    read_cache_keys,
)
from g2rl.preprocess.heatmap_layout import HeatmapSpec
from g2rl.training.checkpoint import (
    load_resume_checkpoint,
    save_inference_checkpoint,
    save_resume_checkpoint,
    set_rng_state,
)
from g2rl.model.adjacency import usable_faces
from g2rl.training.diagnostics import teach_score, write_diagnostics
from g2rl.training.device import device_info, resolve_device, use_bf16, use_channels_last
from g2rl.training.feed import BatchFeed, to_device
from g2rl.training.predictions import predict_intensities, predictions_frame, write_predictions
from g2rl.training.run_identity import data_identity, resume_decision, run_identity
from g2rl.training.settings import TrainSettings, resolve_workers
from g2rl.training.step import CHECK_EVERY, StepRecord, train_step

_log = logging.getLogger(__name__)

LOG_COLUMNS = (
    "epoch", "lr", "loss_total", "loss_heatmap", "loss_guidance", "loss_teach",
    "g_norm", "g_spread", "images", "seconds", "images_per_s", "data_wait_share",
)  # fmt: skip
# Called after each epoch's checkpoint is on disk: (epoch index, that epoch's log row).
EpochHook = Callable[[int, dict], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that fixes epoch ``epoch``'s sample order (independent of earlier epochs)."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def split_rows(splits: Sequence[Any], test_split: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of the cache: test = split == test_split, train = all others."""
    splits = np.asarray([str(s) for s in splits])
    test = np.flatnonzero(splits == str(test_split))
    train = np.flatnonzero(splits != str(test_split))
    if len(test) == 0:
        raise G2RLError(f"{source}: no cache row has split {test_split!r} (splits present: {sorted(set(splits))})")
    if len(train) == 0:
        raise G2RLError(f"{source}: every row has split {test_split!r}; nothing left to train on")
    return train, test


def train_fold(
    crops_h5: str | os.PathLike,
    heatmaps_h5: str | os.PathLike,
    test_split: str,
    out_dir: str | os.PathLike,
    settings: TrainSettings,
    seed: int,
    device: str | torch.device = "auto",
    log: str | os.PathLike | logging.Logger | None = None,
    on_epoch_end: EpochHook | None = None,
    keep_resume_checkpoint: bool = False,
    on_stale_resume: str = "refuse",
) -> dict[str, Any]:
    """Train on every cache row whose split is not ``test_split`` and predict the rows that are.

    crops_h5 / heatmaps_h5: the preprocessing cache (g2rl.preprocess.cache). test_split: DISFA
    "1"/"2"/"3", BP4D "devel". log: a text file to append progress to, or a Logger. Restarting with
    the same out_dir continues from out_dir/last.pt if it was made by the same run (data, split,
    settings, seed: g2rl.training.run_identity); else ``on_stale_resume`` "refuse" raises and
    "restart" starts over. Returns a summary dict (plain types).
    """
    from g2rl.model.weights import check_initialisation
    from g2rl.preprocess.data_checks import check_training_rows, read_cache_labels

    source = os.fspath(crops_h5)
    keys = read_cache_keys(crops_h5)
    attrs = read_cache_attrs(crops_h5)
    train_rows, test_rows = split_rows(keys["split"], test_split, source)
    # where the data is used: no subject in two splits, every AU labelled in both parts (g2rl.preprocess.data_checks)
    check_training_rows(keys, read_cache_labels(crops_h5), attrs["aus"], train_rows, test_rows, test_split, source)
    settings.model.check_feature_map(int(attrs["crop_size"]) // 4, source)  # before W is sized from it
    # initialisation policy and provenance: which data the cache holds, which weights start the run
    dataset, caches = cache_identity(crops_h5, heatmaps_h5)
    weights = resolve_weights(settings.backbone, settings.pretrained)
    check_initialisation(weights, dataset["kind"], settings.allow_random_init, source)
    # a small fold is read once into memory (no per-batch HDF5 reads); the test set needs no target maps
    hold = dict(in_memory=settings.in_memory, max_mb=settings.in_memory_max_mb)
    train_set = open_cache_rows(crops_h5, heatmaps_h5, train_rows, sigma=settings.sigma,
                                heatmap_source=settings.heatmap_source, **hold)
    test_set = open_cache_rows(crops_h5, None, test_rows, **hold)
    for name, rows in (("training", train_set), ("test", test_set)):
        _log.info("%s %s rows: %d, %s (%.0f MiB of images and maps as stored; in_memory %s, limit %g MiB)", source,
                  name, len(rows), "held in memory" if rows.in_memory else "read from HDF5 per batch",
                  rows.nbytes_large() / 2**20, settings.in_memory, settings.in_memory_max_mb)  # fmt: skip
    # the heatmaps file decides the AU points, layout and peak; the model config must agree with it
    heat = train_set.heatmap_attrs or {"layout": "per_au", "peak": "eq1", "au_point_mapping": attrs["au_point_mapping"],
                                       "channel_au": list(range(len(attrs["aus"])))}
    settings = settings.replace(model=settings.model.with_heatmap_choices(heat, list(attrs["aus"]), os.fspath(heatmaps_h5 or crops_h5)))
    for key in ("dataset", "aus", "crop_size"):
        if key not in attrs:
            raise G2RLError(f"{source}: cache attributes lack {key!r}")
    crop = int(attrs["crop_size"])
    info = {
        "dataset": attrs["dataset"],
        "aus": list(attrs["aus"]),
        "crop_size": crop,
        "heatmap_size": crop // 4,
        "au_points": heat["au_point_mapping"],
        "channel_au": list(heat["channel_au"]),
        "test_split": str(test_split),
        "n_train": int(len(train_rows)),
        "n_test": int(len(test_rows)),
        "source": source,
        "heatmaps": os.fspath(heatmaps_h5),
        "data": data_identity(crops_h5, heatmaps_h5, keys, train_rows, test_rows),
        "weights": weights,
        "provenance": {"dataset": dataset, "caches": caches},
    }
    return run_training(train_set, test_set, keys, info, out_dir, settings, seed, device, log, on_epoch_end,
                        keep_resume_checkpoint, on_stale_resume)


def _logger(log: str | os.PathLike | logging.Logger | None) -> tuple[logging.Logger, logging.Handler | None]:
    if log is None:
        return _log, None
    if isinstance(log, logging.Logger):
        return log, None
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
    logger = logging.getLogger(f"{__name__}.run.{id(handler)}")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = True
    return logger, handler


def run_training(
    train_set: RowBatches,
    test_set: RowBatches,
    keys: pd.DataFrame,
    info: dict[str, Any],
    out_dir: str | os.PathLike,
    settings: TrainSettings,
    seed: int,
    device: str | torch.device = "auto",
    log: str | os.PathLike | logging.Logger | None = None,
    on_epoch_end: EpochHook | None = None,
    keep_resume_checkpoint: bool = False,
    on_stale_resume: str = "refuse",
) -> dict[str, Any]:
    """The training loop behind :func:`train_fold`, on rows already set up.

    train_set / test_set: :class:`g2rl.preprocess.batches.RowBatches` (batch fields: that module's
    docstring; ``row`` indexes ``keys``). ``info`` carries dataset, aus, crop_size, heatmap_size,
    au_points, test_split, source and heatmaps (file names, for messages), and optionally weights
    (resolved, :mod:`g2rl.model.weights`) and provenance (the dataset and cache records of the run's
    provenance), and channel_au (the AU index of each heatmap channel; default one channel per AU).
    """
    logger, handler = _logger(log)
    try:
        return _run(train_set, test_set, keys, info, Path(out_dir), settings, int(seed), device, logger, on_epoch_end,
                    keep_resume_checkpoint, on_stale_resume)
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()


def _run(train_set, test_set, keys, info, out_dir, settings, seed, device, logger, on_epoch_end, keep_resume,
         on_stale_resume="refuse"):
    t_wall = time.perf_counter()
    settings.validate()
    dev = resolve_device(device)
    bf16 = use_bf16(dev, settings.amp)
    cl = use_channels_last(dev, settings.channels_last, bf16)
    aus = list(info["aus"])
    source = info.get("source", "training data")
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path, log_path = out_dir / "last.pt", out_dir / "train_log.csv"

    weights = info.get("weights") or resolve_weights(settings.backbone, settings.pretrained)
    logger.info("backbone %s: %s", settings.backbone, weights.describe())
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: each convolution's fastest algorithm, chosen once
    geo_key = geometry_landmarks_key(settings.model, train_set.arrays, source) if settings.lambda_g > 0 else "landmarks"
    if settings.lambda_g > 0:
        check_landmarks(train_set, geo_key, source)
    seed_everything(seed)
    channel_au = list(info.get("channel_au") or range(len(aus)))
    spec = HeatmapSpec(settings.sigma, settings.model.heatmap_peak or "eq1", tuple(channel_au), len(aus))
    model = G2RLModel(settings.model, len(aus), settings.lambda_g, weights, channel_au).to(dev)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    # fused: the same Adam update in one kernel per parameter group; ~4x less optimiser time on CPU,
    # where Adam is 13-20 % of a demo step (docs/PERFORMANCE.md, "Demo training speed")
    fused = True if dev.type in ("cpu", "cuda") else None
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=fused)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(settings.lr_step_epochs), settings.lr_gamma)

    # identity of the run (data, split, settings, seed): a last.pt made by another run is not continued
    identity = run_identity(settings, seed, info)
    rows: list[dict] = []
    start_epoch = 0
    ckpt = load_resume_checkpoint(last_path) if last_path.exists() else None
    if ckpt is not None and resume_decision(last_path, ckpt.get("identity"), identity, on_stale_resume, logger):
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        rows = list(ckpt["log_rows"])
        start_epoch = int(ckpt["epoch"]) + 1
        logger.info("resuming from %s after epoch %d", last_path, start_epoch - 1)

    logger.info(
        "training %s (lambda=%g, sigma=%g, guidance %s, %d heatmap channels, peak %s) on %d frames, testing %d; "
        "device %s, bf16 %s, channels_last %s",
        settings.method, settings.lambda_g, settings.sigma, settings.model.guidance, len(channel_au), spec.peak,
        len(train_set), len(test_set), dev, bf16, cl,
    )  # fmt: skip
    workers = resolve_workers(settings.num_workers)
    feed = BatchFeed(train_set, settings.batch_size, workers, pin=dev.type == "cuda")
    logger.info("training data: %s", feed.describe())
    t_run = time.perf_counter()
    try:
        rows = _train_epochs(model, optimizer, scheduler, feed, rows, start_epoch, settings, seed, dev, bf16, cl, info,
                             identity, last_path, log_path, logger, on_epoch_end)
    finally:
        feed.close()

    net = model.inference_model()
    test_feed = BatchFeed(test_set, settings.batch_size, workers, pin=dev.type == "cuda")
    try:
        pred_rows, pred, true = predict_intensities(net, test_feed, settings.sigma, dev, bf16=bf16, channels_last=cl,
                                                    spec=spec)
    finally:
        test_feed.close()

    run = {"method": settings.method, "lambda_g": settings.lambda_g, "sigma": settings.sigma, "seed": seed,
           "test_split": info.get("test_split"), "resumed_from_epoch": start_epoch}
    provenance = training_record(settings.to_dict(), weights.identity(), device_info(dev, bf16),
                                 time.perf_counter() - t_wall, run=run, **info.get("provenance", {}))
    write_json(provenance, sidecar_path(out_dir / "predictions.csv"))
    write_predictions(out_dir / "predictions.csv", predictions_frame(keys, pred_rows, aus, pred, true))
    # what the geometry branch could teach, final L_G and g_spread (g2rl.training.diagnostics)
    teach = teach_score(model, test_set, aus, dev, batch_size=settings.batch_size)
    write_diagnostics(out_dir / "diagnostics.json", settings.method, teach, rows[-1] if rows else {})
    meta = {
        "dataset": info["dataset"], "aus": aus, "crop_size": info["crop_size"],
        "heatmap_size": info["heatmap_size"], "sigma": settings.sigma, "backbone": settings.backbone,
        "deconv_channels": list(settings.deconv_channels), "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD), "au_points": info.get("au_points"), "method": settings.method,
        "lambda_g": settings.lambda_g, "seed": seed, "test_split": info.get("test_split"),
        "epochs": settings.epochs, "settings": settings.to_dict(), "provenance": provenance, "model": settings.model.to_dict(),
        "heatmap_layout": settings.model.heatmap_layout or "per_au", "heatmap_peak": spec.peak,
        "channel_au": list(channel_au),
    }  # fmt: skip
    save_inference_checkpoint(out_dir / "model.pt", net, meta)
    if not keep_resume:
        last_path.unlink(missing_ok=True)
    final = rows[-1] if rows else {}
    return {
        "out_dir": str(out_dir), "method": settings.method, "device": str(dev), "bf16": bf16,
        "channels_last": cl, "epochs": settings.epochs, "resumed_from_epoch": start_epoch,
        "n_train": len(train_set), "n_test": len(test_set), "seconds": time.perf_counter() - t_run,
        "final": final,
    }  # fmt: skip


def geometry_landmarks_key(model_config, batch: dict, source: str) -> str:
    """The batch key of the geometry module's input: post-alignment ``landmarks`` (geometry_input
    aligned) or the original ``frame_landmarks`` (similarity), which older caches lack."""
    if model_config.geometry_input != "similarity":
        return "landmarks"
    if "frame_landmarks" not in batch:
        raise G2RLError(f"{source}: has no frame_landmarks (written before they were stored); rebuild the crops "
                        "cache to use geometry_input=similarity")
    return "frame_landmarks"


def check_landmarks(rows, key: str, source: str) -> None:
    """Every training face of ``rows`` (a RowBatches; ``key``: landmarks or frame_landmarks) can be
    normalised for the geometry module: finite and with a non-degenerate inter-ocular distance. Checked
    once, before training, instead of in every step (where a check would make the host wait)."""
    lm = torch.from_numpy(rows.arrays[key])
    bad = np.flatnonzero(~usable_faces(lm).numpy())
    if len(bad):
        which = rows.rows[bad[:10]].tolist()
        finite = torch.isfinite(lm[bad]).flatten(1).all(dim=1)
        why = "missing (NaN) landmarks" if not bool(finite.all()) else "a (near-)zero inter-ocular distance"
        raise G2RLError(f"{source}: {len(bad)} training rows have {why} in '{key}' (cache rows {which}"
                        f"{', ...' if len(bad) > 10 else ''}); rebuild the crops cache")


def _train_epochs(model, optimizer, scheduler, feed, rows, start_epoch, settings, seed, dev, bf16, cl, info, identity,
                  last_path, log_path, logger, on_epoch_end) -> list[dict]:
    """Epochs start_epoch.. of the run; after each, its log row and checkpoint are written. Returns the log rows."""
    source = info.get("source", "training data")
    for epoch in range(start_epoch, settings.epochs):
        row = _train_epoch(model, optimizer, feed, settings, seed, epoch, dev, bf16, cl, source, info.get("heatmaps"))
        scheduler.step()
        rows.append(row)
        _write_log(log_path, rows)
        save_resume_checkpoint(
            last_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(), epoch=epoch, log_rows=rows, identity=identity,
        )  # fmt: skip
        logger.info(
            "epoch %d/%d: L=%.4g L_S=%.4g L_G=%.4g L_teach=%.4g |G_raw|=%.3g G spread=%.3g lr=%.2g %.1f img/s (%.0f s)",
            epoch + 1, settings.epochs, row["loss_total"], row["loss_heatmap"], row["loss_guidance"],
            row["loss_teach"], row["g_norm"], row["g_spread"], row["lr"], row["images_per_s"], row["seconds"],
        )  # fmt: skip
        if on_epoch_end is not None:
            on_epoch_end(epoch, dict(row))
    return rows


def _train_epoch(model, optimizer, feed, settings, seed, epoch, dev, bf16, cl, source, heatmaps) -> dict:
    """One pass over (a subset of) the training rows. Returns the epoch's log row.

    The steps never wait for the device (g2rl.training.step); the host checks the losses and target maps
    every CHECK_EVERY steps and at the end, before anything of the epoch is written."""
    model.train()
    order = torch.randperm(len(feed.source), generator=epoch_generator(seed, epoch))
    if settings.max_train_samples is not None:
        order = order[: settings.max_train_samples]  # a fresh random subset every epoch (seeded by (seed, epoch))
    geo_key = geometry_landmarks_key(settings.model, feed.source.arrays, source) if model.guided else "landmarks"
    record = StepRecord(dev, model.guided, source, heatmaps or "the heatmaps file")
    lr = optimizer.param_groups[0]["lr"]
    waited = feed.waited
    t0 = time.perf_counter()
    for step, batch in enumerate(feed.epoch(order)):
        b = to_device(batch, dev, cl, feed.source.renderer)
        record.add(train_step(model, optimizer, b, geo_key, dev, bf16), b)
        if (step + 1) % CHECK_EVERY == 0:
            record.check(epoch, lr)
    wait = feed.waited - waited
    record.check(epoch, lr)
    if record.images == 0:
        raise G2RLError(f"{source}: the training split is empty")
    means = record.means()  # waits for the device: the epoch's work is done after this
    seconds = time.perf_counter() - t0
    n = record.images
    nan = float("nan")
    return {
        "epoch": epoch + 1, "lr": lr,
        **{f"loss_{t}": means[t] for t in ("total", "heatmap", "guidance", "teach")},
        "g_norm": means["g_norm"], "g_spread": means["g_spread"],
        "images": n, "seconds": seconds, "images_per_s": n / seconds if seconds > 0 else nan,
        "data_wait_share": wait / seconds if seconds > 0 else nan,
    }  # fmt: skip


def _write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if isinstance(r[k], float) and math.isnan(r[k]) else r[k]) for k in LOG_COLUMNS})
