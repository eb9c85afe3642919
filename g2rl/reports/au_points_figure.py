"""The AU locations on an aligned face (as the paper's Figure 2), and how close `pairs` lies to the
G2RL author's example annotation. Makes docs/images/au_points.png:

    python -m g2rl.reports.au_points_figure --disfa-crops results/disfa/cache/crops.h5 \\
        --bp4d-crops results/bp4d/cache/crops.h5 --out docs/images/au_points.png

Panels: DISFA's 12 AUs under ``hr`` and under ``pairs``, and BP4D's 5 AUs under ``pairs`` with the
author's example points (EvelynFan/FAU examples/train_example.json, a 256 px crop) as crosses.
The printed table gives each BP4D ``pairs`` point's distance to the example on the *mean* aligned
face of the crops file (scaled to 256 px): the example is another person, aligned by other code,
so a few pixels are expected.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from g2rl.preprocess.au_points import HR_AU_POINTS, PAIRS_AU_POINTS, au_points

DISFA_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
BP4D_AUS = ["AU06", "AU10", "AU12", "AU14", "AU17"]
# The author's example (BP4D M017/T8/336, 256 px crop): two (x, y) per AU, in the SCC channel order.
SCC_EXAMPLE = {"AU06": [(55.0, 105.5), (198.5, 104.5)], "AU10": [(102, 166), (158, 165)],
               "AU12": [(84, 164), (174, 164)], "AU14": [(61.0, 156.5), (192.5, 155.0)],
               "AU17": [(131, 191), (130.5, 210.5)]}


def _face(crops_h5):
    from g2rl.preprocess.h5read import open_h5

    with open_h5(crops_h5) as f:
        lm = f["landmarks"][...]
        size = int(f.attrs["crop_size"])
        # the frame whose landmarks are closest to the mean face: a near-neutral, typical face
        mean = lm.mean(axis=0)
        row = int(np.argmin(((lm - mean) ** 2).sum(axis=(1, 2))))
        image = f["images"][row]
    return image, lm[row], mean, size


def example_distances(bp4d_mean: np.ndarray, size: int) -> list[tuple[str, int, float]]:
    """(AU, point number, distance in px of a 256 px crop) of each BP4D pairs point to the example."""
    pts = au_points(bp4d_mean[None] * 256.0 / size, BP4D_AUS, PAIRS_AU_POINTS)[0]
    return [(au, p + 1, float(np.linalg.norm(pts[k, p] - np.asarray(SCC_EXAMPLE[au][p]))))
            for k, au in enumerate(BP4D_AUS) for p in range(2)]


def make_figure(disfa_crops, bp4d_crops, out) -> list[tuple[str, int, float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d_img, d_lm, _, d_size = _face(disfa_crops)
    b_img, b_lm, b_mean, b_size = _face(bp4d_crops)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.9))
    n = lambda aus, m: sum(len(m[a]) for a in aus)  # noqa: E731
    panels = [(axes[0], d_img, d_lm, d_size, DISFA_AUS, HR_AU_POINTS, f"hr (third-party): DISFA, {n(DISFA_AUS, HR_AU_POINTS)} points"),
              (axes[1], d_img, d_lm, d_size, DISFA_AUS, PAIRS_AU_POINTS,
               f"pairs (the author's): DISFA, {n(DISFA_AUS, PAIRS_AU_POINTS)} points"),
              (axes[2], b_img, b_lm, b_size, BP4D_AUS, PAIRS_AU_POINTS,
               f"pairs: BP4D, {n(BP4D_AUS, PAIRS_AU_POINTS)} points; x = author's example")]
    for ax, img, lm, size, aus, mapping, title in panels:
        scale = 256.0 / size
        ax.imshow(img, extent=(-0.5 * scale, (size - 0.5) * scale, (size - 0.5) * scale, -0.5 * scale))
        ax.scatter(lm[:, 0] * scale, lm[:, 1] * scale, s=4, c="#00c8ff", alpha=0.6, linewidths=0)
        pts = au_points(lm[None], aus, mapping)[0] * scale
        for k, au in enumerate(aus):
            for p in pts[k]:
                if np.isfinite(p).all():
                    ax.scatter(*p, s=36, c="white", edgecolors="black", linewidths=0.8, zorder=3)
                    ax.annotate(au.replace("AU0", "").replace("AU", ""), p, xytext=(3, -3), textcoords="offset points",
                                fontsize=7, color="black", zorder=4,
                                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
        if mapping is PAIRS_AU_POINTS and aus == BP4D_AUS:
            ex = np.array([q for au in aus for q in SCC_EXAMPLE[au]])
            ax.scatter(ex[:, 0], ex[:, 1], marker="x", s=40, c="red", linewidths=1.2, zorder=5)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, 256)
        ax.set_ylim(256, 0)
        ax.axis("off")
    fig.suptitle("AU locations on an aligned demo face (white; number = AU), dlib landmarks (blue)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return example_distances(b_mean, b_size)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disfa-crops", required=True)
    ap.add_argument("--bp4d-crops", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    for au, p, dist in make_figure(args.disfa_crops, args.bp4d_crops, args.out):
        print(f"{au}_{p}: {dist:.1f} px from the example (256 px crop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
