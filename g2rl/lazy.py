"""Package names that import their module on first use (PEP 562 module ``__getattr__``).

Keeps heavy imports where they are needed: importing ``g2rl.model.backbone`` for inference must not
import the geometry module's torch_geometric (0.85 s and a FutureWarning per `g2rl predict` run).
"""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_getattr(package: str, where: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that resolves ``name`` from module ``where[name]``."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return __getattr__
