"""The command line's one convention for list options: one or more words, commas also separating.

``--aus AU01 AU02``, ``--aus AU01,AU02`` and ``--aus AU01 AU02,AU04`` all mean the same list, so a
user types words as everywhere in a shell while the workflow may pass one quoted word
(``{params.aus:q}`` = ``'AU01,AU02'``). Every list-valued option of ``g2rl`` uses :class:`WordList`.
"""

from __future__ import annotations

import argparse
from typing import Callable, Iterable


def split_words(values: Iterable[str], item_type: Callable = str) -> list:
    """The items of ``values`` split at commas and whitespace, empty pieces dropped, each converted by
    ``item_type`` (``['5,8', '10']`` -> ``[5, 8, 10]`` with ``int``). Raises ValueError naming a bad item."""
    items = []
    for word in values:
        for piece in str(word).replace(",", " ").split():
            try:
                items.append(item_type(piece))
            except (TypeError, ValueError):
                raise ValueError(f"{piece!r} is not a valid {getattr(item_type, '__name__', 'item')}") from None
    return items


class WordList(argparse.Action):
    """``nargs='+'`` option whose words are split at commas (:func:`split_words`).

    ``item_type`` converts each item (default str); ``collect`` builds the value (list, or tuple
    where the settings hold tuples). ``allow_empty``: the single word ``none`` gives an empty list
    (an option can take no zero words). Defaults are taken as given, not split."""

    def __init__(self, option_strings, dest, item_type: Callable = str, collect: Callable = list,
                 allow_empty: bool = False, **kwargs):
        kwargs.setdefault("nargs", "+")
        self.item_type, self.collect, self.allow_empty = item_type, collect, allow_empty
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.allow_empty and [str(v).strip().lower() for v in values] == ["none"]:
            setattr(namespace, self.dest, self.collect([]))
            return
        try:
            items = split_words(values, self.item_type)
        except ValueError as exc:
            parser.error(f"{option_string}: {exc}")
        if not items:
            parser.error(f"{option_string}: needs at least one item")
        setattr(namespace, self.dest, self.collect(items))
