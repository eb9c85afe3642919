"""Host syncs per steady-state training step: none (g2rl.training.step), counted with g2rl.training.syncs,
which must see the syncs a step used to have (the control cases)."""

from __future__ import annotations

import pytest
import torch

from g2rl.model import G2RLModel
from g2rl.model.losses import masked_intensity_loss
from g2rl.training.feed import BatchFeed, to_device
from g2rl.training.step import StepRecord, train_step
from g2rl.training.syncs import count_host_syncs
from test_training_fakes import AUS, BlobDataset, small_settings


def _steady_steps(settings, steps: int = 3):
    """A model after two warm-up steps, and a function running ``steps`` more steps as the loop does."""
    torch.manual_seed(0)
    dev = torch.device("cpu")
    model = G2RLModel(settings.model, len(AUS), settings.lambda_g)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    rows = BlobDataset(8 * (steps + 2), crop=32)
    batches = iter(BatchFeed(rows, 8).epoch(None))
    record = StepRecord(dev, model.guided, "fake.h5", "fake_heatmaps.h5")

    def step():
        b = to_device(next(batches), dev)
        record.add(train_step(model, optimizer, b, "landmarks", dev, bf16=False), b)

    step(), step()  # warm-up: lazy state (Adam's moments) is created in the first steps

    def run():
        for _ in range(steps):
            step()

    return run, record


@pytest.mark.parametrize("changes", [dict(lambda_g=0.0), dict(lambda_g=0.05),
                                     dict(lambda_g=0.05, guidance="literal", adjacency="knn")],
                         ids=["baseline", "g2rl", "g2rl literal knn"])
def test_a_steady_state_step_never_waits_for_the_device(changes):
    run, record = _steady_steps(small_settings(**changes))
    assert count_host_syncs(run) == {}
    record.check(0, 1e-3)  # the deliberate check reads the flags back (and finds nothing wrong)


def test_the_counter_sees_each_kind_of_sync():
    """The control: what the loop did before (per step) is counted, from Python and from C++."""
    loss, pred = torch.tensor(1.0), torch.randn(4, 3)
    label = torch.tensor([[1.0, float("nan"), 2.0]] * 4)

    def old_step():
        bool(torch.isfinite(loss))  # the divergence check
        mask = torch.isfinite(label)
        if not bool(mask.any()):  # the teach loss's guard
            return
        (pred[mask] - label[mask]).pow(2).mean()  # boolean indexing
        torch.nn.functional.interpolate(pred[None, None], size=(2, 2)).sum().item()

    found = count_host_syncs(old_step)
    assert found["__bool__"] == 2 and found["__getitem__ with a boolean index"] == 2 and found["item"] == 1
    assert found["aten::_local_scalar_dense"] >= 3 and found["aten::nonzero"] >= 2
    assert count_host_syncs(lambda: masked_intensity_loss(pred, label)) == {}  # the loss as it is now
