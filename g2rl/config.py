"""Load and validate the workflow configuration against the schema shipped in the package
(g2rl/resources/config.schema.yaml, the one copy; the workflow validates through this module too).

`load_config` fills every default the schema gives, rejects unknown keys and wrong types with
one message naming the key, and checks that the configured dataset roots exist (unless the
demo generator produces them). The Snakefile and the CLI both go through it.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml

from g2rl.errors import ConfigError, G2RLError
from g2rl.results_root import default_results

# Package data, so an installed wheel validates configs and runs `g2rl index` without the repository.
# resources/config.yaml is a link to the repository's config/config.yaml (the demo config, kept where
# Snakemake users expect it); building the wheel copies the file behind the link.
RESOURCES = Path(__file__).resolve().parent / "resources"
SCHEMA_PATH = RESOURCES / "config.schema.yaml"
DEFAULT_CONFIG = RESOURCES / "config.yaml"
_SQRT = re.compile(r"^sqrt\(\s*([0-9]*\.?[0-9]+)\s*\)$")


def load_schema() -> dict:
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def _fill_defaults(node: Any, schema: dict) -> Any:
    """Recursively insert schema defaults for absent keys (objects only, like jsonschema's default-filling recipe)."""
    if not isinstance(node, dict) or schema.get("type") != "object":
        return node
    for key, sub in schema.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if key in node:
            node[key] = _fill_defaults(node[key], sub)
    return node


def _key_path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _reason(error) -> str:
    """The schema error's message, said in the config's terms where jsonschema's is cryptic."""
    if "propertyNames" in error.schema_path:
        # e.g. a fold key 'fold-1': it would pass here and fail in Snakemake as a missing input
        return (f"name {error.instance!r} is not allowed: letters and digits only (it becomes part of output "
                f"folders, e.g. fold<name>)")
    return error.message


def validate(config: dict, source: str = "config", check_roots: bool = True) -> dict:
    """Return a defaulted copy of `config`, or raise ConfigError naming the first offending key.

    check_roots: also require each listed dataset's root folder to exist. The workflow passes False, so a dry run
    or `--lint` works on the paper configs without the data; its frame_index job then names a missing root.
    """
    import jsonschema

    schema = load_schema()
    config = _fill_defaults(copy.deepcopy(config or {}), schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = errors[0]
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            where = _key_path(err)
            names = ", ".join(f"{where}.{k}" if where != "(top level)" else k for k in extra)
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            raise ConfigError(f"{source}: unknown key {names} (allowed here: {allowed})")
        raise ConfigError(f"{source}: key {_key_path(err)}: {_reason(err)}")
    if config["results"] is None:  # demo and real-data runs keep apart unless a folder is named
        config["results"] = default_results(config["data_label"])
    _check_semantics(config, source, check_roots)
    return config


def _walk(node: Any, path: str = ""):
    """(key path, value) of every value in a nested config, dict keys included as values of their own."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, key
            yield from _walk(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")
    else:
        yield path, node


# C0 and C1 control characters (newline, tab, escape, ...), DEL and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_values(config: dict, source: str) -> None:
    """Every number finite (NaN passes every range of the schema: `lr: .nan`) and no string with a newline or
    another control character: config values become file names, shell words, log lines and the report's
    reStructuredText, where a newline starts a directive (`.. raw:: html`); no real setting needs one."""
    for path, value in _walk(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: key {path}: {value} is not a finite number")
        if isinstance(value, str) and _CONTROL.search(value):
            char = _CONTROL.search(value).group()
            raise ConfigError(f"{source}: key {path}: holds the control character U+{ord(char):04X} "
                              f"({value[:40]!r}); newlines and control characters are refused in config values")


def _check_sweeps(config: dict, source: str) -> None:
    """Each sweep value once, by numeric value (2, 2.0 and "sqrt(4)" are one sigma) and by the label of its
    output folder (two values that print alike would train into one folder); every sigma within the
    heatmap's bounds (g2rl.sigma_range.sigma_bounds: "sqrt(0)" passes the schema's pattern but is 0)."""
    from g2rl.sigma_range import check_sigma

    exp = config["experiments"]
    side = config["preprocess"]["crop_size"] // 4
    for key in ("sigma", "sigma_sweep"):
        values = exp[key] if isinstance(exp[key], list) else [exp[key]]
        for i, value in enumerate(values):
            where = f"experiments.{key}" + (f"[{i}]" if key == "sigma_sweep" else "")
            try:
                check_sigma(parse_sigma(value), side, f"{source}: key {where}: sigma {value!r}")
            except G2RLError as exc:  # out of range: the message names the key
                raise ConfigError(str(exc)) from None
    for key, value_of, label_of in (("sigma_sweep", parse_sigma, sigma_label), ("lambda_sweep", float, lambda_label),
                                    ("seeds", int, str), ("sweep_seeds", int, str)):
        seen: dict = {}
        for value in exp.get(key) or []:
            for what, mark in (("value", value_of(value)), ("output folder label", label_of(value))):
                if (what, mark) in seen:
                    raise ConfigError(f"{source}: key experiments.{key}: {seen[(what, mark)]!r} and {value!r} have the "
                                      f"same {what} ({mark}); each is one run, so a duplicate would train it twice "
                                      "into one folder")
                seen[(what, mark)] = value


def _check_semantics(config: dict, source: str, check_roots: bool = True) -> None:
    """Checks the schema cannot express: finite numbers and no control characters anywhere, sweeps without
    duplicates, the projection pool within the feature map, dataset roots given and existing (or made by
    the demo generator; `check_roots=False` skips the existence check), and no random initialisation on
    real data unless asked for."""
    from g2rl.init_policy import check_random_init

    _check_values(config, source)
    _check_sweeps(config, source)
    side = config["preprocess"]["crop_size"] // 4
    if config["model"]["projection_pool"] > side:
        raise ConfigError(f"{source}: key model.projection_pool: {config['model']['projection_pool']} is larger than "
                          f"the feature map M it pools ({side} x {side}: preprocess.crop_size / 4); at most {side}")
    model = config["model"]
    kind = "real" if config["data_label"] == "real" else "demo"  # the cache's own record is checked again at training
    check_random_init(model["pretrained"] is None, kind, model["allow_random_init"], source)
    for name in config["datasets"]:
        if not config[name].get("root"):
            raise ConfigError(f"{source}: key {name}.root is required because {name} is listed in `datasets`")
    missing = missing_roots(config)
    if check_roots and missing:
        raise ConfigError(f"{source}: {missing[0]}")


def missing_roots(config: dict) -> list[str]:
    """One message per listed dataset whose root folder does not exist (and is not made by the demo generator),
    in the config's terms: ``key disfa.root: dataset folder /data/DISFA not found (point it at ...)``.

    The workflow prints these when it is parsed, so a dry run (`snakemake -n`) of a paper config says which
    roots are missing before its plan, while the plan itself can still be printed; load_config refuses them.
    """
    demo = config["demo"]
    demo_out = Path(demo["out"]).resolve() if demo["enabled"] else None
    out = []
    for name in config["datasets"]:
        given = config[name].get("root")
        if not given:
            continue
        root = Path(given).resolve()
        generated = demo_out is not None and (root == demo_out or demo_out in root.parents)
        if not generated and not root.is_dir():
            out.append(f"key {name}.root: dataset folder {given} not found (point it at your {name.upper()} copy, "
                       f"e.g. --config '{name}={{\"root\": \"/data/{name.upper()}\"}}' as in README.md)")
    return out


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Read a YAML config (default config/config.yaml), apply `overrides` (nested dict), validate."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    if overrides:
        config = merge(config, overrides)
    return validate(config, source=str(path))


def merge(base: dict, update: dict) -> dict:
    """Nested dict update (update wins), without mutating either argument."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dataset_section(dataset: str, overrides: dict | None = None) -> dict:
    """One dataset's config section: the schema's defaults updated with `overrides`, validated.

    Used by `g2rl index`, which takes the root from the command line, so the root need not exist here.
    """
    import jsonschema

    schema = load_schema()
    if dataset not in ("disfa", "bp4d"):
        raise ConfigError(f"unknown dataset {dataset!r} (known: disfa, bp4d)")
    sub = schema["properties"][dataset]
    section = _fill_defaults(copy.deepcopy(overrides or {}), sub)
    errors = list(jsonschema.Draft202012Validator({**sub, "$defs": schema.get("$defs", {})}).iter_errors(section))
    if errors:
        err = errors[0]
        raise ConfigError(f"{dataset} settings: key {_key_path(err)}: {_reason(err)}")
    return section


DATASET_ORDER = ("bp4d", "disfa")


def dataset_set_label(datasets) -> str:
    """The name of a set of datasets in output file names, in a fixed order: ['disfa', 'bp4d'] -> 'bp4d-disfa'."""
    return "-".join(d for d in DATASET_ORDER if d in datasets)


def check_configfiles_keep_datasets(configfiles, datasets, overridden: bool) -> None:
    """Refuse config files whose merge drops a dataset one of them lists.

    Snakemake merges `--configfile a.yaml b.yaml` key by key, so `datasets: [bp4d]` from b replaces a's
    `[disfa]` and DISFA silently does not run. configfiles: the files in the order given; datasets: the merged
    config's list; overridden: `--config datasets=...` was given (then the user chose explicitly).
    """
    if overridden or len(configfiles or []) < 2:
        return
    listed: dict[str, str] = {}
    for path in configfiles:
        try:
            with open(path) as fh:
                loaded = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError):
            continue  # Snakemake itself reports an unreadable config file
        names = loaded.get("datasets") if isinstance(loaded, dict) else None
        for name in names if isinstance(names, list) else []:
            listed.setdefault(str(name), str(path))
    dropped = [name for name in listed if name not in datasets]
    if dropped:
        files = " ".join(str(p) for p in configfiles)
        raise ConfigError(
            f"{listed[dropped[0]]}: lists dataset {dropped[0]}, but the merged --configfile {files} runs only "
            f"{list(datasets)} (Snakemake merges config files key by key, so the last `datasets` wins). "
            "Run both with --configfile config/paper.yaml, or add --config 'datasets=[disfa,bp4d]'"
        )


def parse_sigma(value: float | int | str) -> float:
    """A sigma from the config: a number or "sqrt(x)"."""
    if isinstance(value, str):
        m = _SQRT.match(value.strip())
        if not m:
            raise ConfigError(f"sigma {value!r}: expected a number or 'sqrt(x)'")
        return math.sqrt(float(m.group(1)))
    return float(value)


def sigma_label(value: float | int | str) -> str:
    """Text of a sigma in output paths: 4 significant digits, e.g. sqrt(0.2) -> '0.4472', 2 -> '2'."""
    return f"{parse_sigma(value):.4g}"


def lambda_label(value: float) -> str:
    """Text of a lambda in output paths, e.g. 0.05 -> '0.05', 0 -> '0'."""
    return f"{float(value):g}"
