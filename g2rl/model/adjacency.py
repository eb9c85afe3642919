"""Landmark normalisation and the distance-derived adjacency of the geometry graph (Eq. 3).

The paper says only that A "is determined by the Euclidean distances between the nodes".
We settle it as a dense Gaussian kernel over the 68 landmarks of each sample:

    A_ij = exp(-d_ij^2 / (2 tau^2)),   d_ij = ||p_i - p_j||_2

with the points first normalised (centred on their centroid, divided by the inter-ocular
distance, IOD), so tau is in IOD units and the graph does not depend on crop size.
A_ii = 1 by construction, which is also the self-loop weight `DenseGCNConv` writes;
that layer then applies the symmetric normalisation D^-1/2 A D^-1/2 (D = row sums).
"""

from __future__ import annotations

import torch

# dlib 68-point indices of the two eyes (0-indexed): the IOD is the distance of their centres.
RIGHT_EYE = slice(36, 42)  # subject's right eye = image left
LEFT_EYE = slice(42, 48)
N_LANDMARKS = 68


def inter_ocular_distance(points: torch.Tensor) -> torch.Tensor:
    """Distance between the two eye centres.

    points: (B, 68, 2) landmark coordinates (any unit). Returns (B,) in the same unit.
    """
    right = points[:, RIGHT_EYE].mean(dim=1)
    left = points[:, LEFT_EYE].mean(dim=1)
    return (left - right).norm(dim=-1)


def normalize_landmarks(points: torch.Tensor, min_iod: float = 1e-3) -> torch.Tensor:
    """Centre the landmarks on their centroid and scale them by the inter-ocular distance.

    points: (B, 68, 2) in crop pixels. Returns (B, 68, 2) in IOD units (F^0 of Eq. 4).
    A degenerate face (IOD below ``min_iod`` pixels) would blow up the scale, so it is an error.
    """
    if points.dim() != 3 or points.shape[1:] != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape (B, 68, 2), got {tuple(points.shape)}")
    iod = inter_ocular_distance(points)
    if bool((iod < min_iod).any()):
        raise ValueError("landmarks with a (near-)zero inter-ocular distance cannot be normalised")
    centred = points - points.mean(dim=1, keepdim=True)
    return centred / iod[:, None, None]


def gaussian_adjacency(points: torch.Tensor, tau: float) -> torch.Tensor:
    """Dense Gaussian-kernel adjacency exp(-d^2 / (2 tau^2)) between all node pairs.

    points: (B, N, 2) node coordinates; tau: kernel width in the same unit (> 0).
    Returns (B, N, N), symmetric, ones on the diagonal, values in (0, 1].
    """
    if tau <= 0:
        raise ValueError(f"adjacency tau must be > 0, got {tau}")
    d2 = torch.cdist(points, points).pow(2)
    return torch.exp(-d2 / (2.0 * tau * tau))


def gcn_normalize(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 with D the row sums (what `DenseGCNConv` applies; for docs and tests).

    adj: (B, N, N) with its self-loops already in place. Returns (B, N, N).
    """
    deg_inv_sqrt = adj.sum(dim=-1).clamp(min=1).pow(-0.5)
    return deg_inv_sqrt.unsqueeze(-1) * adj * deg_inv_sqrt.unsqueeze(-2)
