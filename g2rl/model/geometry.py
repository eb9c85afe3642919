"""External geometric knowledge module (Eq. 3-5): 68 landmarks -> latent vector G.

    P   = landmarks centred and scaled by the inter-ocular distance (IOD units); with
          geometry_input=similarity (frame landmarks) also rotated so the eye line is horizontal
    A   = Gaussian kernel of the distances in P, or a kNN graph recomputed from each layer's
          input features (adjacency.py)
    F^0 = P standardised per coordinate (BatchNorm, no affine): each node's displacement from the
          mean face, in units of its spread over the training faces
    F^l = ReLU(A_hat F^(l-1) W^(l-1)),  l = 1..3          (Eq. 3; DenseGCNConv)
    F'  = F^1 || F^2 || F^3                                (Eq. 4; per-node concatenation)
    G   = Fc(Fc(Fc(Conv1x1(F'))))                          (Eq. 5)

With ``fixed_norm`` (guidance stopgrad_aux and literal_fixed_norm) G is returned on the sphere
of radius sqrt(D) (D = latent_dim: each coordinate has unit RMS); guidance literal returns it raw.
Why: L_G = ||G - W M||^2 with G and W both learned has the trivial minimum G = 0 = W; a G of
fixed norm cannot shrink to zero, and it fixes the scale of L_G so that lambda keeps one
meaning across runs. The unit-RMS scale (rather than unit norm) keeps the teacher head's
inputs O(1), so it learns at Adam's usual step sizes. (Under stopgrad_aux the training model
also stops L_G's gradient at G and gives G content through the L_teach head; see g2rl_net.py.)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch_geometric.nn import DenseGCNConv

from g2rl.model.adjacency import (
    N_LANDMARKS,
    gaussian_adjacency,
    knn_adjacency,
    normalize_landmarks,
    similarity_normalize,
)


class GeometryModule(nn.Module):
    """Landmarks (B, 68, 2) in pixels -> (G (B, D), raw norm ||G_raw|| (B,)).

    gcn_channels: output width of each of the three GCN layers.
    conv_channels: output width of the 1x1 convolution over the concatenated node features.
    fc_channels: widths of the first two FC layers; the third maps to latent_dim.
    tau: gaussian adjacency kernel width in inter-ocular distances.
    adjacency: ``gaussian`` or ``knn`` (k neighbours, self included, from each layer's input).
    fixed_norm: return G with ||G|| = sqrt(D); else G = G_raw.
    similarity: normalise by translation, rotation and scale (for frame landmarks) instead of
        translation and scale (post-alignment landmarks, whose rotation the alignment removed).
    """

    def __init__(
        self,
        gcn_channels: Sequence[int] = (64, 128, 256),
        conv_channels: int = 32,
        fc_channels: Sequence[int] = (512, 256),
        latent_dim: int = 256,
        tau: float = 0.25,
        n_nodes: int = N_LANDMARKS,
        adjacency: str = "gaussian",
        k: int = 7,
        fixed_norm: bool = True,
        similarity: bool = False,
    ) -> None:
        super().__init__()
        if len(gcn_channels) != 3 or len(fc_channels) != 2:
            raise ValueError("the paper's module has three GCN layers and three FC layers")
        if adjacency not in ("gaussian", "knn"):
            raise ValueError(f"adjacency must be gaussian or knn, got {adjacency!r}")
        self.tau = float(tau)
        self.adjacency, self.k = adjacency, int(k)
        self.fixed_norm, self.similarity = bool(fixed_norm), bool(similarity)
        self.n_nodes = n_nodes
        # running mean/var of the normalised coordinates: the mean face and its spread
        self.input_norm = nn.BatchNorm1d(n_nodes * 2, affine=False)
        widths = [2, *gcn_channels]
        self.gcn = nn.ModuleList(DenseGCNConv(widths[i], widths[i + 1]) for i in range(3))
        # A 1x1 convolution over nodes = the same linear map applied to every node's feature vector.
        self.conv = nn.Conv1d(sum(gcn_channels), conv_channels, kernel_size=1)
        self.fc = nn.Sequential(
            nn.Linear(n_nodes * conv_channels, fc_channels[0]),
            nn.ReLU(inplace=True),
            nn.Linear(fc_channels[0], fc_channels[1]),
            nn.ReLU(inplace=True),
            # no activation on the last layer: G's coordinates may take either sign
            nn.Linear(fc_channels[1], latent_dim),
        )

    def forward(self, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = (similarity_normalize if self.similarity else normalize_landmarks)(landmarks.float())
        adj = gaussian_adjacency(p, self.tau) if self.adjacency == "gaussian" else None
        b = p.shape[0]
        x = nn.functional.batch_norm(
            p.reshape(b, -1), self.input_norm.running_mean, self.input_norm.running_var,
            training=self.training and b > 1,  # batch statistics need more than one sample
            momentum=self.input_norm.momentum, eps=self.input_norm.eps,
        ).reshape(b, self.n_nodes, 2)  # fmt: skip
        feats = []
        for i, layer in enumerate(self.gcn):
            if self.adjacency == "knn":
                # layer 1's graph from the landmark positions, later ones from the features (as SCC)
                adj = knn_adjacency(p if i == 0 else x, self.k)
            x = torch.relu(layer(x, adj))  # (B, 68, C_l)
            feats.append(x)
        f = torch.cat(feats, dim=-1)  # (B, 68, sum C_l)
        f = torch.relu(self.conv(f.transpose(1, 2)))  # (B, conv_channels, 68)
        g_raw = self.fc(f.flatten(1))  # (B, latent_dim)
        norm = g_raw.norm(dim=1)
        if not self.fixed_norm:
            return g_raw, norm
        g = g_raw * (g_raw.shape[1] ** 0.5 / norm.clamp(min=1e-6))[:, None]
        return g, norm
