"""The figure writers produce non-empty PNG/PDF files, stamp demo figures, and reject malformed input."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
import matplotlib

from g2rl.reports import figures
from g2rl.reports.figures import (
    heatmap_grid,
    param_tick_label,
    plot_heatmap_examples,
    plot_intensity_curves,
    plot_sensitivity,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIGMAS = [math.sqrt(0.2), math.sqrt(0.5), 1.0, 2.0, math.sqrt(5)]
LAMBDAS = [0.005, 0.01, 0.05, 0.1, 0.5]


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000, path


def sensitivity_records():
    rows = []
    for dataset, base in (("bp4d", 0.6), ("disfa", 0.45)):
        for i, s in enumerate(SIGMAS):
            rows.append({"dataset": dataset, "param": "sigma", "value": s, "icc": base + 0.01 * i, "mae": 0.6 - 0.01 * i})
        for i, lam in enumerate(LAMBDAS):
            rows.append({"dataset": dataset, "param": "lambda", "value": lam, "icc": base + 0.05 - 0.02 * abs(i - 2), "mae": 0.5})
    return pd.DataFrame(rows)


def test_tick_labels():
    assert [param_tick_label(s) for s in SIGMAS] == [r"$\sqrt{0.2}$", r"$\sqrt{0.5}$", "1", "2", r"$\sqrt{5}$"]
    assert [param_tick_label(v) for v in LAMBDAS] == ["0.005", "0.01", "0.05", "0.1", "0.5"]
    # the 4-significant-digit path labels of the workflow (sigma_label) are recognised too
    assert [param_tick_label(float(t)) for t in ("0.4472", "0.7071", "2.236")] == [
        r"$\sqrt{0.2}$", r"$\sqrt{0.5}$", r"$\sqrt{5}$"]
    assert param_tick_label(0.7) == "0.7" and param_tick_label(0.1234) == "0.123"


def test_plot_sensitivity_writes_png_and_pdf(tmp_path):
    rec = sensitivity_records()
    for param in ("sigma", "lambda"):
        png, pdf = plot_sensitivity(rec[rec["param"] == param], tmp_path / f"sensitivity_{param}")
        assert png == tmp_path / f"sensitivity_{param}.png" and pdf == tmp_path / f"sensitivity_{param}.pdf"
        assert_png(png)
        assert pdf.read_bytes()[:5] == b"%PDF-"


def test_plot_sensitivity_rejects_bad_records(tmp_path):
    rec = sensitivity_records()
    sig = rec[rec["param"] == "sigma"]
    with pytest.raises(G2RLError, match="aggregate seeds"):
        plot_sensitivity(pd.concat([sig, sig.iloc[:1]]), tmp_path / "s")
    with pytest.raises(G2RLError, match="lack column"):
        plot_sensitivity(sig.drop(columns=["mae"]), tmp_path / "s")
    with pytest.raises(G2RLError, match="unknown param"):
        plot_sensitivity(sig.assign(param="batch"), tmp_path / "s")
    with pytest.raises(G2RLError, match="one figure per param"):
        plot_sensitivity(rec, tmp_path / "s")


def test_plot_heatmap_examples(tmp_path):
    rng = np.random.default_rng(0)
    n, k, s, h = 2, 3, 64, 16
    images = rng.integers(0, 255, (n, s, s, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:h]
    heat = np.zeros((n, k, h, h))
    for i in range(n):
        for j in range(k):
            heat[i, j] = (j + 1) * np.exp(-((yy - 4 - 3 * j) ** 2 + (xx - 8) ** 2) / 8.0)
    pred = heat.max(axis=(2, 3))
    true = np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 3.0]])
    out, pdf = plot_heatmap_examples(images, heat, ["AU06", "AU12", "AU25"], pred, true, tmp_path / "fig4.png", 0.5,
                                     captions=["SN001/LeftCamera frame 4", "SN002/LeftCamera frame 9"])
    assert_png(out)
    assert pdf == tmp_path / "fig4.pdf" and pdf.read_bytes()[:5] == b"%PDF-"  # Figure 4 for a paper, too
    with pytest.raises(G2RLError, match="heatmaps must be"):
        plot_heatmap_examples(images, heat[:, :2], ["AU06", "AU12", "AU25"], pred, true, tmp_path / "x.png", 0.5)
    with pytest.raises(G2RLError, match="uint8"):
        plot_heatmap_examples(images.astype(float), heat, ["AU06", "AU12", "AU25"], pred, true, tmp_path / "x.png", 0.5)
    with pytest.raises(G2RLError, match="peak_per_intensity"):
        plot_heatmap_examples(images, heat, ["AU06", "AU12", "AU25"], pred, true, tmp_path / "x.png", 0.0)


def test_heatmap_figure_title_is_the_one_given_not_a_tile_title():
    """The figure's title names the model; a tile's 'label x  pred y' once took its place (a loop variable
    shadowed the ``title`` argument)."""
    images = np.zeros((1, 32, 32, 3), np.uint8)
    fig = figures.heatmap_examples_figure(images, np.zeros((1, 2, 8, 8)), ["AU06", "AU12"], np.array([[1.0, 2.0]]),
                                          np.array([[0.0, 3.0]]), 0.5, title="Predicted heatmaps of G2RL (literal)")
    assert fig._suptitle is not None and fig._suptitle.get_text() == "Predicted heatmaps of G2RL (literal)"
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["AU06\nlabel 0  pred 1.00", "AU12\nlabel 3  pred 2.00"]
    matplotlib.pyplot.close(fig)


def test_heatmap_tiles_wrap_into_balanced_rows():
    assert heatmap_grid(12, 5) == (3, 5)  # DISFA: input + 12 AUs
    assert heatmap_grid(5, 5) == (2, 3)  # BP4D: input + 5 AUs
    assert heatmap_grid(3, 5) == (1, 4)
    assert heatmap_grid(12, 7) == (2, 7)


def test_heatmap_colour_scale_is_intensity_0_to_5(tmp_path, monkeypatch):
    """Every tile is coloured on the same fixed scale: top of the scale = the heatmap value of intensity 5
    (5 x peak_per_intensity), whatever the maps in this figure hold (as `g2rl predict --heatmaps`)."""
    seen = []
    real = figures.intensity_overlay
    monkeypatch.setattr(figures, "intensity_overlay", lambda img, hm, vmax: seen.append(vmax) or real(img, hm, vmax))
    images = np.zeros((1, 32, 32, 3), np.uint8)
    heat = np.full((1, 2, 8, 8), 0.01)
    plot_heatmap_examples(images, heat, ["AU01", "AU02"], np.ones((1, 2)), np.ones((1, 2)), tmp_path / "f.png",
                          peak_per_intensity=1 / (2 * math.pi * 4.0))
    assert seen == [pytest.approx(5 / (2 * math.pi * 4.0))] * 2


def test_plot_intensity_curves(tmp_path):
    t = np.arange(200)
    true1 = np.clip(np.round(2.5 + 2.5 * np.sin(t / 20)), 0, 5)
    df = pd.DataFrame(
        {
            "subject": "SN001",
            "session": "LeftCamera",
            "frame": t + 1,
            "split": "1",
            "AU01_true": true1,
            "AU01_pred": np.clip(true1 + np.random.default_rng(1).normal(0, 0.4, t.size), 0, 5),
            "AU02_true": np.where(t % 50 < 5, np.nan, true1 / 2),
            "AU02_pred": true1 / 2 + 0.2,
        }
    )
    out, pdf = plot_intensity_curves(df, ["AU01", "AU02"], tmp_path / "fig5.png", method="G2RL", fold="1", seed=0)
    assert_png(out)
    assert pdf == tmp_path / "fig5.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(G2RLError, match="2 subjects"):
        plot_intensity_curves(pd.concat([df, df.assign(subject="SN002")]), ["AU01"], tmp_path / "x.png")
    with pytest.raises(G2RLError, match="not ordered"):
        plot_intensity_curves(df.iloc[::-1], ["AU01"], tmp_path / "x.png")
    with pytest.raises(G2RLError, match="AU05_pred"):
        plot_intensity_curves(df, ["AU05"], tmp_path / "x.png")


def test_intensity_overlay_keeps_the_face_grey_and_shows_low_maps():
    """No blue cast: a zero map leaves the face's own grey; a low map (intensity 0.5 of 5) still
    visibly colours its pixels; the top of the scale is the colour map's bright end, nearly opaque."""
    from g2rl.reports.figures import intensity_overlay

    image = np.zeros((32, 32, 3), np.uint8)
    image[...] = (200, 120, 40)  # a warm skin tone: shown in grey, whatever its hue
    heat = np.zeros((8, 8))
    heat[1:4, 5:8] = 4.0  # a plateau at the top right (cells 1-3 x 5-7 -> pixels 4-15 x 20-31)
    heat[5:8, 5:8] = 0.4  # a low map at the bottom right: intensity 0.5 on a 0-5 scale with vmax 4
    out = intensity_overlay(image, heat, vmax=4.0)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    r0, g0, b0 = out[28, 4].astype(int)  # far from both: the face in grey, not tinted
    assert r0 == g0 == b0
    low = out[26, 26].astype(int)
    assert np.abs(low - out[28, 4].astype(int)).max() > 25  # the low map shows
    r, g, b = out[10, 26].astype(int)
    assert r > 200 and g > 150 and b < 100  # plasma's top is bright yellow


def test_sensitivity_axis_is_numeric_with_a_baseline_line(tmp_path, monkeypatch):
    """sigma on a linear axis at its true values (sqrt 5 lies 0.236 past 2, not one step), lambda on a log
    axis; the Baseline of each dataset is a horizontal reference line in both panels."""
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.update(fig=fig) or path)
    rec = sensitivity_records()
    base = pd.DataFrame({"dataset": ["bp4d", "disfa"], "icc": [0.55, 0.4], "mae": [0.7, 0.65]})
    plot_sensitivity(rec[rec["param"] == "sigma"], tmp_path / "s", baseline=base)
    ax_icc, ax_mae = seen["fig"].axes
    assert ax_icc.get_xscale() == "linear"
    assert list(ax_icc.get_xticks()) == pytest.approx(SIGMAS)
    xs = ax_icc.lines[0].get_xdata()
    assert list(xs) == pytest.approx(SIGMAS)
    flat = [line for line in ax_mae.lines if len(set(line.get_ydata())) == 1 and line.get_linestyle() == "--"]
    assert sorted(line.get_ydata()[0] for line in flat) == [0.65, 0.7]
    assert any(t.get_text() == "Baseline, DISFA" for t in ax_icc.get_legend().get_texts())
    plot_sensitivity(rec[rec["param"] == "lambda"], tmp_path / "l")
    assert seen["fig"].axes[0].get_xscale() == "log"
    assert list(seen["fig"].axes[0].get_xticks()) == pytest.approx(LAMBDAS)


def test_intensity_curves_show_the_baseline_and_name_the_task(tmp_path, monkeypatch):
    df = pd.DataFrame({"subject": "F001", "session": "T1", "frame": np.arange(1, 30), "split": "devel",
                       "AU01_true": np.linspace(0, 5, 29), "AU01_pred": np.linspace(5, 0, 29)})
    base = df.assign(AU01_pred=2.0).iloc[::-1]  # any row order: matched by (subject, session, frame)
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.update(fig=fig) or path)
    plot_intensity_curves(df, ["AU01"], tmp_path / "y.png", method="G2RL", baseline=base, session_word="task")
    fig = seen["fig"]
    assert fig.get_suptitle().startswith("Subject F001, task T1")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ground truth", "Baseline", "G2RL"]
    assert list(fig.axes[0].lines[1].get_ydata()) == [2.0] * 29
    with pytest.raises(G2RLError, match="share no frame"):
        plot_intensity_curves(df, ["AU01"], tmp_path / "y.png", baseline=base.assign(subject="M001"))


def test_demo_stamp_lies_in_front_of_image_tiles(tmp_path):
    """The watermark is drawn over the panels (dark heatmap tiles included), not hidden behind them."""
    images = np.full((1, 32, 32, 3), 30, np.uint8)
    args = (images, np.zeros((1, 3, 8, 8)), ["AU01", "AU02", "AU03"], np.ones((1, 3)), np.ones((1, 3)))
    with matplotlib.rc_context({"figure.dpi": 100}):
        plain, _ = plot_heatmap_examples(*args, tmp_path / "h.png", 1.0, columns=4)
        stamped, _ = plot_heatmap_examples(*args, tmp_path / "hd.png", 1.0, columns=4, demo=True)
    p = matplotlib.image.imread(plain)[..., :3]
    d = matplotlib.image.imread(stamped)[..., :3]
    # the tiles are dark grey (30/255); the stamp crosses them: count the pixels it lightens there
    tile_p = (np.abs(p - 30 / 255).sum(-1) < 0.02).sum()
    tile_d = (np.abs(d - 30 / 255).sum(-1) < 0.02).sum()
    assert tile_d < tile_p - 1000


def _series_colours(ax) -> set:
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in ax.lines}
    for coll in ax.collections:  # error bars
        colours |= {matplotlib.colors.to_hex(c) for c in coll.get_edgecolor()}
    return colours


def test_demo_stamp_sits_behind_every_series_and_legend_in_a_colour_none_uses(tmp_path, monkeypatch):
    """Issue 30 item 4: the stamp crossed the red G2RL lines and a legend, in the same red. Now each panel's
    stamp is drawn under its lines, markers, error bars and legend, in a grey no series uses."""
    seen = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.append(fig) or path)
    df = pd.DataFrame({"subject": "F001", "session": "T1", "frame": np.arange(1, 30), "split": "devel",
                       "AU01_true": np.linspace(0, 5, 29), "AU01_pred": np.linspace(5, 0, 29)})
    plot_intensity_curves(df, ["AU01"], tmp_path / "c.png", method="G2RL", baseline=df, demo=True)
    rec = sensitivity_records()
    plot_sensitivity(rec[rec["param"] == "lambda"], tmp_path / "s", demo=True,
                     baseline=pd.DataFrame({"dataset": ["bp4d", "disfa"], "icc": [0.5, 0.4], "mae": [0.6, 0.7]}))
    figs = {id(f): f for f in seen}.values()
    checked = 0
    for fig in figs:
        for ax in fig.axes:
            stamps = [t for t in ax.texts if t.get_text() == "DEMO DATA"]
            assert len(stamps) == 1, ax.get_title()
            stamp = stamps[0]
            drawn = [*ax.lines, *ax.collections, *([ax.get_legend()] if ax.get_legend() else [])]
            assert drawn and all(stamp.get_zorder() < a.get_zorder() for a in drawn), ax.get_title()
            assert matplotlib.colors.to_hex(stamp.get_color()) not in _series_colours(ax)
            assert stamp.get_clip_on()
            checked += 1
        # the red label lies above the panels, outside all of them
        label = [t for t in fig.texts if t.get_text().startswith("DEMO DATA:")]
        assert len(label) == 1 and label[0].get_position() == (0.0, 1.0)
    assert checked == 3  # one curve panel, the sensitivity figure's (a) and (b)


def test_intensity_curves_title_and_legend_placement(tmp_path, monkeypatch):
    df = pd.DataFrame({"subject": "SN001", "session": "s", "frame": np.arange(1, 30), "split": "2",
                       "AU01_true": np.linspace(0, 5, 29), "AU01_pred": np.linspace(5, 0, 29)})
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.update(fig=fig) or path)
    plot_intensity_curves(df, ["AU01"], tmp_path / "y.png", method="G2RL", fold="2", seed=3)
    fig = seen["fig"]
    assert "(test fold 2, seed 3)" in fig.get_suptitle()
    # the legend belongs to the figure, outside the panels, not on top of the curves
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ground truth", "G2RL"]
    assert all(ax.get_legend() is None for ax in fig.axes)


def test_mae_axes_name_their_unit(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.update(fig=fig) or path)
    rec = sensitivity_records()
    plot_sensitivity(rec[rec["param"] == "sigma"], tmp_path / "s")
    assert [ax.get_ylabel() for ax in seen["fig"].axes] == ["ICC", "MAE (intensity levels, 0-5)"]


def _red_pixels(path):
    rgb = matplotlib.image.imread(path)[..., :3]
    return int(((rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.35) & (rgb[..., 2] < 0.35)).sum())


def _pdf_strings(path):
    """The text a PDF draws (uncompressed streams): the pieces of each TJ array, joined."""
    data = path.read_bytes()
    return [b"".join(re.findall(rb"\((.*?)\)", arr)).decode("latin-1") for arr in re.findall(rb"\[(.*?)\]\s*TJ", data, re.S)]


def test_demo_figures_are_stamped_in_png_and_pdf(tmp_path):
    rec = sensitivity_records()
    sig = rec[rec["param"] == "sigma"]
    with matplotlib.rc_context({"pdf.compression": 0}):
        real_png, real_pdf = plot_sensitivity(sig, tmp_path / "real")
        demo_png, demo_pdf = plot_sensitivity(sig, tmp_path / "demo", demo=True)
    assert _red_pixels(demo_png) > _red_pixels(real_png) + 500
    assert any("DEMO DATA" in t for t in _pdf_strings(demo_pdf))
    assert not any("DEMO" in t for t in _pdf_strings(real_pdf)) and any("ICC" in t for t in _pdf_strings(real_pdf))

    images = np.full((1, 32, 32, 3), 128, np.uint8)
    heat = np.zeros((1, 1, 8, 8))
    args = (images, heat, ["AU01"], np.ones((1, 1)), np.ones((1, 1)))
    plain, _ = plot_heatmap_examples(*args, tmp_path / "h.png", 1.0)
    stamped, _ = plot_heatmap_examples(*args, tmp_path / "hd.png", 1.0, demo=True)
    assert _red_pixels(stamped) > _red_pixels(plain) + 200
