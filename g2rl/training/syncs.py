"""Counting the operations that make the host wait for the device (a "host sync").

On a GPU, reading a value back (``.item()``, ``bool(t)``, ``float(t)``, ``.tolist()``, ``.cpu()``), an
operation whose output size depends on the values (``nonzero``, boolean indexing, ``masked_select``,
``unique``) or a branch on a tensor stops the host until the device has finished everything queued
before it. :func:`count_host_syncs` runs a function and counts them twice over, so that a CPU (where none
of them waits) still shows them:

* every such call made from Python, seen through a ``TorchFunctionMode`` (Tensor methods and torch
  functions, whatever the device);
* every such operator run inside torch's own C++ code (``aten::_local_scalar_dense``, which every
  value read-back ends in, ``aten::nonzero``, ...), from the profiler's list of operators, except inside
  the CPU kernels of fused Adam, which read their own CPU scalars (the CUDA kernel does not).

Where CUDA is present, :func:`cuda_sync_errors` runs the function under
``torch.cuda.set_sync_debug_mode("error")`` as well, which raises at the first synchronising CUDA call.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import torch
from torch.overrides import TorchFunctionMode

# Python-level calls that read a value back or size an output by the values
PYTHON_SYNCS = frozenset({
    "__bool__", "__float__", "__int__", "__index__", "__complex__", "item", "tolist", "cpu", "numpy",
    "nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "repeat_interleave",
    "equal", "allclose", "is_nonzero",
})  # fmt: skip
# the operators those end in, as the profiler names them (also when called from C++)
OPERATOR_SYNCS = frozenset({
    "aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::nonzero", "aten::masked_select",
    "aten::_unique", "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive", "aten::argwhere",
    "aten::equal", "aten::allclose", "aten::_assert_async",
})  # fmt: skip
# CPU kernels that read their own CPU scalars (fused Adam's step count and lr): not a wait for any device
# (the CUDA kernel keeps them on the card; there, cuda_sync_errors checks the real thing)
CPU_KERNELS_READING_SCALARS = frozenset({"aten::_fused_adam_", "aten::_fused_adamw_"})


def _bool_index(args) -> bool:
    """Whether an indexing call's index holds a boolean tensor (its result size depends on the values)."""
    index = args[1] if len(args) > 1 else None
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts)


class _Calls(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.found: Counter = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in PYTHON_SYNCS:
            self.found[name] += 1
        elif name in ("__getitem__", "__setitem__") and _bool_index(args):
            self.found[f"{name} with a boolean index"] += 1
        elif name == "where" and len(args) == 1 and not kwargs:
            self.found["where(condition)"] += 1
        return func(*args, **(kwargs or {}))


def count_host_syncs(fn: Callable[[], object]) -> Counter:
    """Run ``fn()`` once; return how often each host-syncing call or operator ran (empty: none)."""
    from torch.profiler import ProfilerActivity, profile

    calls = _Calls()
    with profile(activities=[ProfilerActivity.CPU]) as prof, calls:
        fn()
    found = Counter(calls.found)
    for event in prof.events():
        if event.name in OPERATOR_SYNCS and not _inside(event, CPU_KERNELS_READING_SCALARS):
            found[event.name] += 1
    return found


def _inside(event, names: frozenset) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.cpu_parent
    return False


def cuda_sync_errors(fn: Callable[[], object]) -> str | None:
    """Run ``fn()`` with CUDA's sync debug mode set to error: None if it never synchronised, else the
    first synchronising call's message. Needs CUDA."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        fn()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return None
