"""The workflow's methods as model configs: Table 1's ``baseline`` / ``g2rl``, the ablation's
``g2rl-<variant>`` and the matched ``baseline-<variant>`` (docs/METHOD.md, "Ablation").

A variant is a named set of :class:`~g2rl.model.config.ModelConfig` changes listed under
``experiments.ablation.variants`` in the workflow config, e.g. ``stopgrad_aux: {guidance: stopgrad_aux}``.
Its runs live beside the others, ``results/<dataset>/runs/g2rl-<variant>/sigma../lambda../seed../fold..``,
so a run's folder says what it is. A variant that changes the heatmaps (AU points, layout, peak)
reads its own heatmaps cache, ``results/<dataset>/cache/<points>-<layout>-<peak>/heatmaps_sigma<S>.h5``,
and gets a Baseline trained on that cache, ``baseline-<variant>`` (lambda = 0), so that the layout's own
effect and the guidance's are told apart (:func:`matched_baselines`).

Method names are wildcards, folder names and words in shell commands: ``baseline``, ``g2rl``, or either
followed by ``-`` and a variant name of ``[a-z0-9_]+`` (the config schema's pattern), nothing else.
"""

from __future__ import annotations

import dataclasses

from g2rl.errors import ConfigError
from g2rl.model.config import ModelConfig
from g2rl.preprocess.au_points import mapping_name

VARIANT_PREFIX = "g2rl-"
BASELINE_PREFIX = "baseline-"
_HEATMAP_KEYS = ("au_points", "heatmap_layout", "heatmap_peak")
# How a row is called when a variant changes the guidance alone (Table 1, the comparison, the ablation).
GUIDANCE_TITLES = {"stopgrad_aux": "G2RL + stop-grad/teach", "literal_fixed_norm": "G2RL + fixed-norm G",
                   "literal": "G2RL as written"}
# What each guidance is, in a few words (row descriptions; g2rl.reports.model_label says it at length).
GUIDANCE_SHORT = {"literal": "Eq. 6/8 as written, the paper's",
                  "stopgrad_aux": "stop-gradient on G, fixed-norm G and an L_teach head: our fix, not the paper's",
                  "literal_fixed_norm": "Eq. 6/8 with G on a fixed-norm sphere"}


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


def is_baseline(method: str) -> bool:
    """True for ``baseline`` and ``baseline-<variant>`` (lambda = 0: no guidance)."""
    return method == "baseline" or method.startswith(BASELINE_PREFIX)


def variant_of(method: str) -> str | None:
    """The variant name in ``g2rl-<variant>`` / ``baseline-<variant>``; None for ``baseline`` and ``g2rl``."""
    for prefix in (VARIANT_PREFIX, BASELINE_PREFIX):
        if method.startswith(prefix):
            return method[len(prefix):]
    return None


def method_model_config(config: dict, method: str) -> ModelConfig:
    """The ModelConfig of a workflow method: ``baseline``, ``g2rl``, ``g2rl-<variant>`` or ``baseline-<variant>``
    (the variant's heatmaps, trained without guidance)."""
    base = base_model_config(config)
    if method in ("baseline", "g2rl"):
        return base
    name = variant_of(method)
    table = variants(config)
    if name not in table:
        raise ConfigError(f"method {method!r} is neither baseline, g2rl nor g2rl-/baseline-<one of {sorted(table)}>")
    return base.replace(**table[name])


def changes_heatmaps(model: ModelConfig, base: ModelConfig) -> bool:
    """Whether ``model`` trains on other heatmaps than ``base`` (AU points, layout or peak)."""
    return any(getattr(model, k) != getattr(base, k) for k in _HEATMAP_KEYS)


def matched_baselines(config: dict) -> list[str]:
    """``baseline-<variant>`` for every variant that changes the heatmaps: the Baseline its G2RL row is
    compared with in the ablation (the same heatmaps, lambda = 0)."""
    base = base_model_config(config)
    return [f"{BASELINE_PREFIX}{name}" for name in variants(config)
            if changes_heatmaps(method_model_config(config, f"{VARIANT_PREFIX}{name}"), base)]


def table1_variants(config: dict) -> list[str]:
    """The ``g2rl-<variant>`` methods that get their own Table 1 row (``experiments.table1_variants``)."""
    return [f"{VARIANT_PREFIX}{name}" for name in config["experiments"].get("table1_variants") or []]


def method_label(method: str, model: dict | None = None, g2rl_model: dict | None = None) -> str:
    """A row's name: 'Baseline', 'G2RL', 'G2RL + stop-grad/teach' (a variant that changes the guidance alone,
    :data:`GUIDANCE_TITLES`), 'G2RL pairs' (another variant), 'Baseline pairs' (the matched Baseline).
    ``model`` / ``g2rl_model``: the ModelConfig dicts of the method and of Table 1's G2RL, when known."""
    if method in ("baseline", "g2rl"):
        return "Baseline" if method == "baseline" else "G2RL"
    name = variant_of(method) or method
    if is_baseline(method):
        return f"Baseline {name}"
    if model and g2rl_model:
        changed = {k for k in set(model) | set(g2rl_model) if model.get(k) != g2rl_model.get(k)} - {"teach_weight"}
        if changed == {"guidance"} and model.get("guidance") in GUIDANCE_TITLES:
            return GUIDANCE_TITLES[model["guidance"]]
    return f"G2RL {name}"


def config_method_label(config: dict, method: str) -> str:
    """:func:`method_label` from a validated workflow config (the ModelConfigs it gives)."""
    if method in ("baseline", "g2rl"):
        return method_label(method)
    return method_label(method, method_model_config(config, method).to_dict(), base_model_config(config).to_dict())


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
    """What a variant changes against Table 1's G2RL, e.g. ``guidance=stopgrad_aux``."""
    changed = [f"{f.name}={getattr(model, f.name)}" for f in dataclasses.fields(ModelConfig)
               if getattr(model, f.name) != getattr(base, f.name)]
    return ", ".join(changed) or "(Table 1's G2RL)"


def ablation_methods(config: dict) -> list[dict]:
    """The ablation's rows in order, each {"method", "label", "changes", "against", "baseline"}: the Baseline,
    Table 1's G2RL, then each variant; a variant with other heatmaps is preceded by the Baseline trained on them
    (``baseline-<variant>``, compared with the Baseline) and compared with it, so that the layout's own effect
    and the guidance's are separate rows. ``against``: the method a row is compared with (None for the first)."""
    base = base_model_config(config)
    rows = [{"method": "baseline", "changes": "lambda = 0", "against": None},
            {"method": "g2rl", "changes": f"Table 1's G2RL: guidance {base.guidance}, {GUIDANCE_SHORT[base.guidance]}",
             "against": "baseline"}]
    for name in variants(config):
        method = f"{VARIANT_PREFIX}{name}"
        model = method_model_config(config, method)
        against = "baseline"
        if changes_heatmaps(model, base):
            against = f"{BASELINE_PREFIX}{name}"
            rows.append({"method": against, "changes": f"lambda = 0 on the {name} variant's heatmaps ({describe(model, base)})",
                         "against": "baseline"})
        rows.append({"method": method, "changes": describe(model, base), "against": against})
    for row in rows:
        row["baseline"] = is_baseline(row["method"])
        row["label"] = config_method_label(config, row["method"])
    return rows


def check_experiment_rows(config: dict, source: str = "workflow config") -> None:
    """What the schema cannot say about the rows a config trains: every ``table1_variants`` name is an
    ablation variant, and no variant repeats Table 1's G2RL (its runs would be the same trainings twice)."""
    table = variants(config)
    unknown = [n for n in config["experiments"].get("table1_variants") or [] if n not in table]
    if unknown:
        raise ConfigError(f"{source}: key experiments.table1_variants: {unknown} not among experiments.ablation.variants "
                          f"({sorted(table)}); a Table 1 row is an ablation variant trained on every fold")
    base = base_model_config(config)
    for name in table:
        if method_model_config(config, f"{VARIANT_PREFIX}{name}") == base:
            raise ConfigError(f"{source}: key experiments.ablation.variants.{name}: {table[name]} changes nothing against "
                              f"Table 1's G2RL (model.guidance {base.guidance}); it would train the same runs twice")
