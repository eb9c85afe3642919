"""Loss terms of Eq. 2/7 (heatmaps), Eq. 6 (geometry guidance, the paper's "auxiliary" loss)
and L_teach (the intensity head on G of guidance stopgrad_aux).

Reduction (settled here, see docs/METHOD.md): the paper writes squared L2 norms summed over the
training set. We keep the per-sample squared norm (sum over a sample's pixels / G's dimensions)
and average over the samples in a batch, so the learning rate does not depend on batch size.
Missing labels: an AU whose intensity is NaN contributes nothing (its heatmap channel is
masked out), it is never read as intensity 0.
"""

from __future__ import annotations

import torch


def label_mask(intensity: torch.Tensor) -> torch.Tensor:
    """(B, K) intensities with NaN = unlabelled -> (B, K) float mask, 1 where labelled."""
    return torch.isfinite(intensity).to(torch.float32)


def masked_heatmap_loss(pred: torch.Tensor, target: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
    """L_S: sum over labelled channels and pixels of (pred - target)^2, averaged over the batch.

    pred, target: (B, K, H, W); intensity: (B, K), NaN = unlabelled channel (skipped, and a NaN
    in its target map is ignored too). Returns a scalar (float32).
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    mask = label_mask(intensity)[:, :, None, None]
    diff = torch.where(mask.bool(), pred.float() - target.float(), torch.zeros((), device=pred.device))
    return diff.pow(2).sum() / pred.shape[0]


def guidance_loss(g: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
    """L_G = ||G - W M||^2 / D per sample, averaged over the batch.

    g: (B, D) geometry vectors (stopgrad_aux passes G detached with ||G|| = sqrt(D), so L_G cannot
    move G; the literal variants pass it with its gradient, see g2rl_net); projected: (B, D) = W M.
    Dividing by D (for a fixed-norm G: the squared norm of the unit-norm G's residual, so L_G starts
    near 1 whatever D is) is the same constant for every variant. Returns a scalar.
    """
    return (g.float() - projected.float()).pow(2).mean(dim=1).mean()


def masked_intensity_loss(pred: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
    """Mean squared error over labelled (sample, AU) entries only; 0 if none is labelled.

    pred: (B, K) predicted intensities; intensity: (B, K) labels, NaN = unlabelled.
    The mask is a 0/1 weight rather than a boolean index, and the count is clamped rather than
    tested: boolean indexing and ``if mask.any()`` would each make the host wait for the device.
    """
    weight = label_mask(intensity)
    diff = pred.float() - torch.nan_to_num(intensity.float(), nan=0.0)
    return (diff.pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
