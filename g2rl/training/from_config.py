"""One mapping from a validated workflow config to a training job: :class:`TrainSettings` and the
`g2rl train` argv words that reproduce them.

The workflow's train rule (``train_flags`` in workflow/rules/common.smk) and the benchmarks
(benchmarks/bench_demo_train.py) both call these, so a config key cannot reach one and miss the
other; tests/test_train_from_config.py parses the argv back through `g2rl train` and checks that it
gives the same settings.
"""

from __future__ import annotations

from g2rl.model.variants import is_baseline, method_model_config
from g2rl.training.settings import TrainSettings


def train_settings_from_config(config: dict, method: str, lambda_g: float | str | None = None,
                               sigma: float | None = None, pretrained: str | None = None) -> TrainSettings:
    """TrainSettings of one job of ``method`` (baseline | g2rl | g2rl-<variant> | baseline-<variant>) from a
    config that :func:`g2rl.config.validate` has filled. ``lambda_g`` (a number or the workflow's path label,
    e.g. '0.05') defaults to ``experiments.lambda`` and is 0 for a Baseline; ``sigma`` (heatmap
    pixels) defaults to ``experiments.sigma``; ``pretrained`` replaces ``model.pretrained`` where it
    is set (the workflow passes the exported weights file rather than the torchvision name)."""
    m, t, e = config["model"], config["train"], config["experiments"]
    lam = 0.0 if is_baseline(method) else float(e["lambda"] if lambda_g is None else lambda_g)
    return TrainSettings(
        model=method_model_config(config, method), pretrained=pretrained or m["pretrained"],
        allow_random_init=m["allow_random_init"], lambda_g=lam, sigma=float(e["sigma"] if sigma is None else sigma),
        epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"], lr_gamma=t["lr_gamma"],
        lr_step_epochs=tuple(t["lr_step_epochs"]), weight_decay=t["weight_decay"], num_workers=t["num_workers"],
        max_train_samples=t["max_train_samples"], amp=t["amp"], channels_last=t["channels_last"],
        in_memory=t["in_memory"], in_memory_max_mb=t["in_memory_max_mb"], heatmap_source=t["heatmap_source"],
    )  # fmt: skip


def train_argv(settings: TrainSettings) -> list[str]:
    """The `g2rl train` options that give ``settings``, one argv word each (``--sigma``, ``--method``
    and the job's place, --crops, --out, --seed..., are the caller's). Every field is explicit, so the
    CLI's own defaults never fill in for the config (an empty ``lr_step_epochs`` is ``none``, where
    the old flags left it out and the CLI's 5 stepped the lr anyway)."""
    s = settings
    flags = [
        *s.model.cli_flags(),  # every ModelConfig field, variant applied
        *("--epochs", s.epochs, "--batch-size", s.batch_size, "--lr", s.lr, "--lr-gamma", s.lr_gamma),
        *("--weight-decay", s.weight_decay, "--num-workers", s.num_workers),
        *("--amp", s.amp, "--channels-last", s.channels_last),
        *("--in-memory", s.in_memory, "--in-memory-max-mb", s.in_memory_max_mb),
        *("--heatmap-source", s.heatmap_source),
        "--lr-step-epochs", ",".join(map(str, s.lr_step_epochs)) or "none",
        # always explicit: `g2rl train`'s own default is the config schema's (imagenet), so null must say none
        "--pretrained", s.pretrained or "none",
    ]
    if s.allow_random_init:
        flags.append("--allow-random-init")
    if s.max_train_samples:
        flags += ["--max-train-samples", s.max_train_samples]
    if s.lambda_g > 0:
        flags += ["--lambda", s.lambda_g]
    return [str(f) for f in flags]


def workflow_train_flags(config: dict, method: str, lam_label: str, weights: str | None) -> list[str]:
    """The train rule's ``{params.flags}``: :func:`train_argv` of the job's settings (``lam_label``: the
    run folder's lambda; ``weights``: the file the `weights` rule exports, None without pretraining),
    plus ``--device cuda`` where the config trains on GPUs (explicit, so a broken CUDA setup stops the
    job with one line instead of training on the CPU)."""
    settings = train_settings_from_config(config, method, lam_label, pretrained=weights)
    flags = train_argv(settings)
    if config["train"]["gpus"] > 0:
        flags += ["--device", "cuda"]
    return flags
