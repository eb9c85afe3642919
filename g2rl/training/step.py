"""One training step that never waits for the device, and the device-side record of an epoch's steps.

A check such as ``bool(torch.isfinite(loss))`` after every step makes the host wait until the device has
finished that step, so the next batch's copies and kernels cannot be queued behind it (on a GPU that
fast, the card then idles between steps). So the step (:func:`train_step`) only queues work, and
:class:`StepRecord` keeps on the device what the host needs later: the sums of the loss terms for the
epoch's log row, the first step whose loss was not finite (and its terms), and the first step whose
target heatmaps were not. The host reads it in :meth:`StepRecord.check`, every :data:`CHECK_EVERY` steps
and at the end of the epoch, and stops the run there with the same one line as a check after every step
would have given (naming the step where it happened). Up to CHECK_EVERY - 1 steps run after a
non-finite loss; none of them is saved (the epoch's checkpoint is written after its last check).

tests/test_training_syncs.py counts the operations that make the host wait (``.item()``, ``bool()`` of
a tensor, ``nonzero``, boolean indexing, ...) in steady-state steps with the profiler: there are none.
"""

from __future__ import annotations

import torch

from g2rl.errors import G2RLError
from g2rl.training.device import autocast

# host checks of the device-side flags: every this many steps (one wait each), and at the end of an epoch
CHECK_EVERY = 50
# logged loss terms, in the order of StepRecord.sums; the first four are reported when the loss diverges
TERMS = ("total", "heatmap", "guidance", "teach", "g_norm", "g_spread")


def train_step(model, optimizer, batch: dict, geo_key: str, dev: torch.device, bf16: bool):
    """Forward, backward and optimiser update of one batch already on the device (g2rl.training.feed.to_device).
    Returns the step's LossTerms (g2rl.model.g2rl_net). Nothing here reads a value back to the host."""
    with autocast(dev, bf16):
        terms = model(batch["image"], batch["heatmaps"], batch["intensity"], batch.get(geo_key) if model.guided else None)
    optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    optimizer.step()
    return terms


class StepRecord:
    """An epoch's steps as device tensors; read back by the host only in :meth:`check` and :meth:`means`.

    ``source``: the training data (for messages); ``heatmaps``: the file the target maps come from.
    """

    def __init__(self, dev: torch.device, guided: bool, source: str, heatmaps: str) -> None:
        self.guided, self.source, self.heatmaps = guided, source, heatmaps
        self.sums = torch.zeros(len(TERMS), device=dev)  # each term x batch size (g_spread: batches > 1 only)
        self.step = torch.zeros((), dtype=torch.int64, device=dev)
        self.first_bad_loss = torch.full((), -1, dtype=torch.int64, device=dev)
        self.bad_terms = torch.zeros(4, device=dev)  # total, heatmap, guidance, teach at first_bad_loss
        self.first_bad_maps = torch.full((), -1, dtype=torch.int64, device=dev)
        self.steps = self.images = self.images_spread = 0  # host counts (batch sizes are known there)
        self.recent_rows: dict[int, list] = {}  # step -> its cache rows, since the last check (host)

    def add(self, terms, batch: dict) -> None:
        """Record one step (its LossTerms and the device batch it trained on) without a host wait."""
        bs = len(batch["row"])
        values = torch.stack([getattr(terms, t).detach().float().reshape(()) for t in TERMS])
        if self.guided:
            self.sums[:5] += values[:5] * bs
            if bs > 1:  # the spread of G across a batch of one is undefined
                self.sums[5] += values[5] * bs
                self.images_spread += bs
        else:
            self.sums[:2] += values[:2] * bs
        self.images += bs
        loss_bad = ~torch.isfinite(values[0])
        new = (self.first_bad_loss < 0) & loss_bad
        self.first_bad_loss = torch.where(new, self.step, self.first_bad_loss)
        self.bad_terms = torch.where(new, values[:4], self.bad_terms)
        maps_bad = ~torch.isfinite(batch["heatmaps"]).all()
        self.first_bad_maps = torch.where((self.first_bad_maps < 0) & maps_bad, self.step, self.first_bad_maps)
        self.recent_rows[self.steps] = batch["row"]
        self.steps += 1
        self.step += 1  # the same count on the device, for torch.where above

    def check(self, epoch: int, lr: float) -> None:
        """Stop with one line if a step so far had non-finite target maps or loss (one host wait)."""
        bad_maps, bad_loss = torch.stack([self.first_bad_maps, self.first_bad_loss]).tolist()
        if bad_maps >= 0:
            rows = self._rows_of(bad_maps)
            raise G2RLError(f"{self.heatmaps}: heatmaps of rows {rows} (one batch) are not finite (NaN or inf); "
                            "rebuild the heatmaps cache")
        if bad_loss >= 0:
            parts = ", ".join(f"{k} {v:.4g}" for k, v in zip(TERMS, self.bad_terms.tolist()))
            raise G2RLError(f"{self.source}: the training diverged: loss is not finite at epoch {epoch + 1}, step "
                            f"{bad_loss + 1} ({parts}; lr {lr:g}); no model.pt or predictions were written: lower the "
                            "learning rate (--lr / train.lr) and run it again")
        self.recent_rows.clear()

    def _rows_of(self, step: int) -> list[int]:
        return [int(r) for r in self.recent_rows.get(step, [])]

    def means(self) -> dict[str, float]:
        """Each term's mean over the epoch's images (NaN where the method has none); one host wait."""
        sums = dict(zip(TERMS, self.sums.tolist()))
        nan = float("nan")
        n, n_spread = max(self.images, 1), self.images_spread
        out = {t: sums[t] / n for t in TERMS[:2]}
        out.update({t: sums[t] / n if self.guided else nan for t in TERMS[2:5]})
        out["g_spread"] = sums["g_spread"] / n_spread if n_spread else nan
        return out
