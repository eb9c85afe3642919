"""The workflow's methods as model configs: Table 1's ``baseline`` / ``g2rl`` and the ablation's
``g2rl-<variant>`` (docs/METHOD.md, "Ablation").

A variant is a named set of :class:`~g2rl.model.config.ModelConfig` changes listed under
``experiments.ablation.variants`` in the workflow config, e.g. ``literal: {guidance: literal}``.
Its runs live beside the others, ``results/<dataset>/runs/g2rl-<variant>/sigma../lambda../seed../fold..``,
so a run's folder says what it is. A variant that changes the heatmaps (AU points, layout, peak)
reads its own heatmaps cache, ``results/<dataset>/cache/<points>-<layout>-<peak>/heatmaps_sigma<S>.h5``.
"""

from __future__ import annotations

import dataclasses

from g2rl.errors import ConfigError
from g2rl.model.config import ModelConfig
from g2rl.preprocess.au_points import mapping_name

VARIANT_PREFIX = "g2rl-"
_HEATMAP_KEYS = ("au_points", "heatmap_layout", "heatmap_peak")


def base_model_config(config: dict) -> ModelConfig:
    """Table 1's ModelConfig from a validated workflow config (its ``model`` section and the heatmap
    choices of ``preprocess``; ``model.pretrained`` belongs to TrainSettings)."""
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    values = {k: v for k, v in config["model"].items() if k in fields}
    pre = config["preprocess"]
    values.update(au_points=pre["au_points"] if pre["au_points"] is not None else "hr",
                  heatmap_layout=pre["heatmap_layout"], heatmap_peak=pre["heatmap_peak"])
    return ModelConfig(**values)


def variants(config: dict) -> dict[str, dict]:
    """Variant name -> its ModelConfig changes, in config order."""
    return dict(config["experiments"]["ablation"]["variants"])


def method_model_config(config: dict, method: str) -> ModelConfig:
    """The ModelConfig of a workflow method: ``baseline``, ``g2rl`` or ``g2rl-<variant>``."""
    base = base_model_config(config)
    if method in ("baseline", "g2rl"):
        return base
    name = method.removeprefix(VARIANT_PREFIX)
    table = variants(config)
    if not method.startswith(VARIANT_PREFIX) or name not in table:
        raise ConfigError(f"method {method!r} is neither baseline, g2rl nor g2rl-<one of {sorted(table)}>")
    return base.replace(**table[name])


def heatmap_key(model: ModelConfig) -> str:
    """<points>-<layout>-<peak>: the folder of a heatmaps cache built for these choices."""
    return f"{mapping_name(model.au_points)}-{model.heatmap_layout}-{model.heatmap_peak}"


def heatmap_cache(config: dict, dataset: str, method: str, sigma_label: str) -> str:
    """The heatmaps cache a method's trainings read: Table 1's, or its variant's own."""
    results = config["results"]
    model = method_model_config(config, method)
    base = base_model_config(config)
    if all(getattr(model, k) == getattr(base, k) for k in _HEATMAP_KEYS):
        return f"{results}/{dataset}/cache/heatmaps_sigma{sigma_label}.h5"
    if isinstance(model.au_points, dict):
        raise ConfigError(f"ablation variant {method}: name its au_points (hr or pairs), a written-out mapping has no cache name")
    return f"{results}/{dataset}/cache/{heatmap_key(model)}/heatmaps_sigma{sigma_label}.h5"


def describe(model: ModelConfig, base: ModelConfig) -> str:
    """What a variant changes against Table 1's G2RL, e.g. ``guidance=literal``."""
    changed = [f"{f.name}={getattr(model, f.name)}" for f in dataclasses.fields(ModelConfig)
               if getattr(model, f.name) != getattr(base, f.name)]
    return ", ".join(changed) or "(Table 1's G2RL)"
