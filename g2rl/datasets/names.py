"""Subject and session names: the one character set the pipeline accepts.

A name becomes a folder (`results/<dataset>/landmarks/<subject>/<session>.csv`), a file name and a word in the
workflow's shell commands. Names come from the config (folds, partitions) and from a dataset's own file names
(BP4D's tasks are discovered from its label files), and both are untrusted: a label file called
`F001_T1$(touch X)_AU06.csv` must not reach a shell, and `..` must not reach a path. Real names are `F001`,
`T1`, `SN001`. The pattern is the schema's (`$defs.name` in g2rl/resources/config.schema.yaml), so the config
check and the dataset check cannot drift apart.
"""

from __future__ import annotations

import functools
import re

from g2rl.errors import DatasetLayoutError

ALLOWED = "letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters"


@functools.cache
def name_pattern() -> re.Pattern[str]:
    """The schema's subject/session name pattern, compiled."""
    from g2rl.config import load_schema

    return re.compile(load_schema()["$defs"]["name"]["pattern"])


@functools.cache
def split_pattern() -> re.Pattern[str]:
    """The schema's fold-name pattern (`disfa.folds` keys): a split becomes the `fold<name>` folder of a run."""
    from g2rl.config import load_schema

    return re.compile(load_schema()["properties"]["disfa"]["properties"]["folds"]["propertyNames"]["pattern"])


def unanchored(pattern: re.Pattern[str]) -> str:
    """A schema pattern without its ^...$ anchors, as Snakemake's wildcard constraints take it."""
    return pattern.pattern.removeprefix("^").removesuffix("$")


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and name_pattern().fullmatch(name) is not None


def check_name(kind: str, name: str, source: object) -> None:
    """Raise DatasetLayoutError naming `source` (the file or setting the name came from) unless `name` is safe.

    kind: what the name is ("subject", "session"), for the message.
    """
    if not is_safe_name(name):
        raise DatasetLayoutError(
            f"{source}: {kind} name {name!r} is not accepted ({ALLOWED}); "
            "such names become file names and shell words, so rename it in the dataset copy or the config"
        )
