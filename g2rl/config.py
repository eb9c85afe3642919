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

from g2rl.errors import ConfigError

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
    if error.validator == "pattern" and error.schema.get("pattern") == load_schema()["$defs"]["text"]["pattern"]:
        bad = next(ch for ch in str(error.instance) if not re.search(error.schema["pattern"], ch))
        return (f"{error.instance!r} holds the control character or line break U+{ord(bad):04X}: config values "
                "are one line of text (they reach the report's pages, where a line break could start markup)")
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
    _check_semantics(config, source, check_roots)
    return config


def _check_semantics(config: dict, source: str, check_roots: bool = True) -> None:
    """Checks the schema cannot express: dataset roots given and existing (or made by the demo generator;
    `check_roots=False` skips the existence check), and no random initialisation on real data unless asked for."""
    from g2rl.init_policy import check_random_init

    model = config["model"]
    kind = "real" if config["data_label"] == "real" else "demo"  # the cache's own record is checked again at training
    check_random_init(model["pretrained"] is None, kind, model["allow_random_init"], source)
    demo = config["demo"]
    demo_out = Path(demo["out"]).resolve() if demo["enabled"] else None
    for name in config["datasets"]:
        section = config[name]
        if not section.get("root"):
            raise ConfigError(f"{source}: key {name}.root is required because {name} is listed in `datasets`")
        root = Path(section["root"]).resolve()
        generated = demo_out is not None and (root == demo_out or demo_out in root.parents)
        if check_roots and not generated and not root.is_dir():
            raise ConfigError(
                f"{source}: key {name}.root: dataset folder {section['root']} not found "
                f"(point it at your {name.upper()} copy, e.g. "
                f"--config '{name}={{\"root\": \"/data/{name.upper()}\"}}' as in README.md)"
            )


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
