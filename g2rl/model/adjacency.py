"""Landmark normalisation and the distance-derived adjacency of the geometry graph (Eq. 3).

The paper says only that A "is determined by the Euclidean distances between the nodes".
Two settings (``ModelConfig.adjacency``). ``knn`` (the SCC code's choice): each node linked to its
k nearest nodes (itself included) in the features entering the layer, recomputed at every layer,
symmetrised (:func:`knn_adjacency`). ``gaussian`` (default) is a dense kernel over the 68 landmarks
of each sample, the same at every layer:

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
# below this inter-ocular distance (px) a face cannot be normalised (its scale would blow up)
MIN_IOD = 1e-3


def inter_ocular_distance(points: torch.Tensor) -> torch.Tensor:
    """Distance between the two eye centres.

    points: (B, 68, 2) landmark coordinates (any unit). Returns (B,) in the same unit.
    """
    right = points[:, RIGHT_EYE].mean(dim=1)
    left = points[:, LEFT_EYE].mean(dim=1)
    return (left - right).norm(dim=-1)


def usable_faces(points: torch.Tensor, min_iod: float = MIN_IOD) -> torch.Tensor:
    """(B,) bool: the faces of ``points`` (B, 68, 2) that can be normalised: every coordinate finite and
    an inter-ocular distance of at least ``min_iod`` (in the points' unit, crop or frame px)."""
    finite = torch.isfinite(points).flatten(1).all(dim=1)
    return finite & (inter_ocular_distance(points) >= min_iod)


def normalize_landmarks(points: torch.Tensor, min_iod: float = MIN_IOD) -> torch.Tensor:
    """Centre the landmarks on their centroid and scale them by the inter-ocular distance.

    points: (B, 68, 2) in crop pixels. Returns (B, 68, 2) in IOD units (F^0 of Eq. 4).
    A degenerate face (IOD below ``min_iod`` pixels) would blow up the scale: its points come out NaN.
    No check here (a check of a device tensor makes the host wait for the device at every training
    step): the callers choose usable faces (:func:`usable_faces`) before, once for the whole training
    set (g2rl.training.loop) and per batch in the evaluation passes.
    """
    if points.dim() != 3 or points.shape[1:] != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape (B, 68, 2), got {tuple(points.shape)}")
    iod = inter_ocular_distance(points)
    iod = torch.where(iod >= min_iod, iod, torch.full_like(iod, float("nan")))
    centred = points - points.mean(dim=1, keepdim=True)
    return centred / iod[:, None, None]


def similarity_normalize(points: torch.Tensor, min_iod: float = MIN_IOD) -> torch.Tensor:
    """Remove translation, rotation and scale only: centroid at 0, eye line horizontal, IOD 1.

    points: (B, 68, 2) in any pixel frame (the original video frame, before the affine
    alignment, which also shears and stretches). Returns (B, 68, 2) in IOD units.
    """
    p = normalize_landmarks(points, min_iod)
    d = p[:, LEFT_EYE].mean(dim=1) - p[:, RIGHT_EYE].mean(dim=1)  # (B, 2), unit length
    cos, sin = d[:, 0], d[:, 1]
    # rotate by -angle(d): x' = cos x + sin y, y' = -sin x + cos y
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
    return p @ rot


def knn_adjacency(features: torch.Tensor, k: int) -> torch.Tensor:
    """Binary symmetric kNN graph: A_ij = 1 if j is among i's k nearest nodes or i among j's.

    features: (B, N, C) node features; distances are Euclidean in C dimensions and each node is
    its own nearest neighbour (so k counts the self-loop). Returns (B, N, N) float, ones on the
    diagonal. Not differentiable in the features (the graph is a choice of neighbours).
    """
    n = features.shape[1]
    if not 1 <= k <= n:
        raise ValueError(f"knn k must be in 1..{n}, got {k}")
    d = torch.cdist(features.detach().float(), features.detach().float())
    # ties broken by index through a tiny ramp, so the graph does not depend on topk's tie order
    d = d + torch.arange(n, device=d.device, dtype=d.dtype) * 1e-9
    d.diagonal(dim1=-2, dim2=-1).fill_(-1.0)  # self first
    idx = d.topk(k, dim=-1, largest=False).indices  # (B, N, k)
    adj = torch.zeros_like(d).scatter_(-1, idx, 1.0)
    return torch.maximum(adj, adj.transpose(-1, -2))


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
