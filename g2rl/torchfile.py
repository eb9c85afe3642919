"""Reading torch files that may come from anyone: checkpoints, resume files, backbone weights.

Every g2rl reader of a ``.pt`` file goes through :func:`load_torch_file`, so a file handed over
by someone else gets the same treatment everywhere (``g2rl predict``, ``g2rl report examples``,
``g2rl provenance``, a training resume, ``--pretrained FILE``):

* it is read with ``torch.load(weights_only=True)``: tensors and plain containers only, never a
  pickled object, so no code inside the file runs;
* a refusal is one line naming the file: ``empty file``; ``not a PyTorch file``; or, for a
  pickle that holds Python objects (possibly code), ``not a g2rl checkpoint: it holds Python
  objects or code, which a g2rl checkpoint never does; it was not loaded``. torch's own text for
  that case is 6-12 lines that end by advising ``weights_only=False``, which would run the code:
  that advice never reaches the user.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

from g2rl.errors import G2RLError

# torch's weights-only unpickler names the global it refused, e.g. "GLOBAL posix.system"
_GLOBAL = re.compile(r"GLOBAL (\S+)")


def load_torch_file(path: str | os.PathLike, what: str = "g2rl checkpoint") -> Any:
    """The content of a torch file, loaded on the CPU without unpickling any object.

    Args:
        path: the file.
        what: what the caller expects, for the message (e.g. ``"g2rl checkpoint"``,
            ``"torch state dict"``).

    Returns:
        What the file holds (dicts, lists, tensors, numbers, strings).

    Raises:
        G2RLError ``<path>: <reason>`` (one line) when the file is missing, empty, not a torch
        file, or holds pickled objects; OSError when it cannot be read (permissions...).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: {what} does not exist" if not path.exists() else f"{path}: not a file")
    if path.stat().st_size == 0:
        raise G2RLError(f"{path}: empty file (not a {what})")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols on its way to refusing a plain pickle: not news for the user
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        refs = f" (it refers to {found.group(1)})" if found else ""
        if "Weights only load failed" in str(exc):
            raise G2RLError(f"{path}: not a {what}: it holds Python objects or code{refs}, which a g2rl "
                            "checkpoint never does; it was not loaded") from None
        raise G2RLError(f"{path}: not a PyTorch file, or a damaged one (not a {what})") from None
    except OSError:
        raise
    except Exception:  # a text file, a truncated archive, a zip of something else: several kinds
        raise G2RLError(f"{path}: not a PyTorch file, or a truncated one (not a {what})") from None
