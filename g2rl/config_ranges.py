"""One table of numeric ranges for the config and the command line: the config schema.

Each config key's range (``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum`` of
g2rl/resources/config.schema.yaml) is read here, and the command-line options that set the same
value are checked against it after parsing (:func:`check_options`), so ``g2rl train
--lr-step-epochs 0`` is refused as ``train: {lr_step_epochs: [0]}`` is, with one line naming the
option and the key. Numbers must also be finite: NaN passes every ``<`` test of a schema.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from g2rl.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The bounds of one config key (None: unbounded on that side); ``integer``: whole numbers only."""

    key: str
    integer: bool
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: int | None = None

    def describe(self) -> str:
        """The range in words: ``an integer >= 1``, ``a finite number > 0 and <= 1``."""
        parts = [f">= {_num(self.minimum)}" if self.minimum is not None else None,
                 f"> {_num(self.exclusive_minimum)}" if self.exclusive_minimum is not None else None,
                 f"<= {_num(self.maximum)}" if self.maximum is not None else None,
                 f"< {_num(self.exclusive_maximum)}" if self.exclusive_maximum is not None else None]
        bounds = " and ".join(p for p in parts if p)
        multiple = f", a multiple of {self.multiple_of}" if self.multiple_of else ""
        return ("an integer" if self.integer else "a finite number") + (f" {bounds}" if bounds else "") + multiple

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            return False
        if not math.isfinite(value):
            return False
        if self.multiple_of and value % self.multiple_of:
            return False
        return ((self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum)
                and (self.exclusive_minimum is None or value > self.exclusive_minimum)
                and (self.exclusive_maximum is None or value < self.exclusive_maximum))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _resolve(node: dict, schema: dict) -> dict:
    """``node`` with a ``$ref`` into ``$defs`` followed and, for a choice of types (``oneOf``, ``type:
    [integer, "null"]``), the numeric branch."""
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**schema["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    for choice in node.get("oneOf", ()):
        if _numeric_type(choice) is not None:
            return {**choice, **{k: v for k, v in node.items() if k != "oneOf"}}
    return node


def _numeric_type(node: dict) -> str | None:
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    return next((t for t in types if t in ("integer", "number")), None)


@functools.lru_cache(maxsize=None)
def config_range(key: str) -> Range:
    """The range of a config key: ``"train.epochs"``; ``"train.lr_step_epochs"`` (an array) gives its items';
    ``"$defs.seed"`` a definition's. Raises KeyError for a key the schema lacks or that is not numeric."""
    from g2rl.config import load_schema

    schema = load_schema()
    parts = key.split(".")
    node, parts = (schema["$defs"][parts[1]], parts[2:]) if parts[0] == "$defs" else (schema, parts)
    for part in parts:
        node = _resolve(node, schema)["properties"][part]
    node = _resolve(node, schema)
    if node.get("type") == "array" or "items" in node:
        node = _resolve(node["items"], schema)
    kind = _numeric_type(node)
    if kind is None:
        raise KeyError(f"{key}: not a numeric key of the config schema")
    return Range(key, kind == "integer", node.get("minimum"), node.get("maximum"), node.get("exclusiveMinimum"),
                 node.get("exclusiveMaximum"), node.get("multipleOf"))


def check_value(option: str, value: Any, key: str) -> None:
    """Raise :class:`ConfigError` ``<option> <value>: must be <range> (as the config's <key>)`` when ``value``
    (or, for a list or tuple, one of its items) is outside ``key``'s range; None passes (an unset option)."""
    if value is None:
        return
    bounds = config_range(key)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not bounds.contains(item):
            shown = _shown(item) + (f" (in {','.join(map(_shown, items))})" if len(items) > 1 else "")
            raise ConfigError(f"{option} {shown}: must be {bounds.describe()} (as the config's {key})")


def _shown(value: Any) -> str:
    """A value as the user typed it: 1 for 1.0, 0.5, nan."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_options(args: Any, table: Mapping[str, str | tuple[str, str]], skip: Iterable[str] = ()) -> None:
    """:func:`check_value` for every ``dest -> config key`` of ``table`` on parsed ``args``; the option is
    named as typed (``lr_step_epochs`` -> ``--lr-step-epochs``), or given: ``dest -> (option, key)``.
    ``skip``: dests not checked this time (e.g. ``--lambda`` of a Baseline, which ignores it)."""
    for dest, entry in table.items():
        option, key = entry if isinstance(entry, tuple) else ("--" + dest.replace("_", "-"), entry)
        if dest not in skip and hasattr(args, dest):
            check_value(option, getattr(args, dest), key)
