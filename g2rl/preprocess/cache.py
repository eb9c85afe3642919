"""The HDF5 cache: aligned crops + geometry per dataset, and heatmaps per sigma.

Two files, so that a change of sigma rebuilds only the (cheap) heatmaps and never the crops:

``crops.h5`` (one per dataset; :func:`build_crop_cache`)
    ``images`` uint8 (N, S, S, 3) RGB, one sample per chunk, uncompressed (photos barely
    compress and lzf halves the read speed); ``landmarks`` float32 (N, 68, 2) crop px;
    ``au_points`` float32 (N, K, P, 2) crop px, NaN-padded; ``frame_landmarks`` float32 (N, 68, 2)
    the same landmarks in the original frame's px (before alignment; for the geometry module's
    ``similarity`` input; absent in caches written before it existed); ``intensities`` float32 (N, K),
    NaN = unlabelled; ``landmark_source`` text (detected / carried); frame keys ``subject``,
    ``session``, ``split`` (text), ``frame`` and ``media_frame`` (int64). Attributes: see
    :data:`CROPS_ATTRS`.
``heatmaps_sigma{sigma}.h5`` (one per sigma, AU mapping, layout and peak; :func:`build_heatmap_cache`)
    ``heatmaps`` float16 (N, C, S/4, S/4), one sample per chunk, compressed; C = K (layout per_au)
    or the number of AU points (per_point; g2rl.preprocess.heatmap_layout). Attributes: ``sigma``,
    ``crops_fingerprint`` (the crops file's ``fingerprint``), ``aus``, ``layout``, ``peak``,
    ``au_point_mapping``, ``channel_au``, ...

Both are written under a temporary name and renamed when complete (:func:`g2rl.atomic.atomic_path`).
The validators here are shared with the reader (:mod:`g2rl.preprocess.batches`).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.preprocess.align import alignment_matrix, check_landmarks_in_frame, transform_points, warp_to_crop
from g2rl.preprocess.au_points import au_points, max_points, validate_au_mapping
from g2rl.preprocess.flags import apply_flag_policy
from g2rl.preprocess.h5read import open_h5, read_rows, verify_content_digests
from g2rl.preprocess.h5write import check_free_space, h5_output, write_content_digests
from g2rl.preprocess.heatmap_layout import channel_aus, render_layout
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, crop_to_heatmap
from g2rl.sigma_range import check_sigma
from g2rl.preprocess.landmarks import landmark_array, read_landmarks_csv
from g2rl.provenance import dataset_attrs

_log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Heatmaps are gzip-compressed at level 1: inflating a row costs the loader less than half of lzf's CPU
# (0.152 against 0.360 ms for the paper configs' 24 maps of 64 x 64) and it stores half the bytes
# (record heatmap_compression_2026-12-07, docs/PERFORMANCE.md); higher levels inflate slower.
GZIP_LEVEL = 1
CROPS_ATTRS = ("format_version", "kind", "dataset", "aus", "crop_size", "au_point_mapping", "max_gap",
               "heatmap_stride", "fingerprint", "n_frames", "counts")
KEY_DATASETS = ("subject", "session", "split", "frame", "media_frame", "landmark_source")
# the small datasets that decide what is learnt, each with a SHA-256 in the file (g2rl.preprocess.h5read):
# fletcher32 alone misses 16-bit words flipped between 0x0000 and 0xFFFF (a label 0.0 read as NaN)
DIGESTED_DATASETS = ("intensities", "landmarks", "frame_landmarks", "au_points", *KEY_DATASETS)
INDEX_COLUMNS = ("dataset", "subject", "session", "frame", "media", "media_frame", "split")


def _logger(log) -> Callable[[str], None]:
    if log is None:
        return _log.info
    return log.info if hasattr(log, "info") else log


def crops_bytes(n: int, crop_size: int, k: int, p_max: int) -> int:
    """Bytes the datasets of a crops cache take: images N x S x S x 3 uint8, landmarks (aligned and frame) 2 x N x 68 x 2,
        AU points N x K x P x 2 and intensities N x K float32, two int64 frame keys and ~4 short strings."""
    return n * (crop_size * crop_size * 3 + 2 * 68 * 2 * 4 + k * p_max * 2 * 4 + k * 4 + 2 * 8 + 4 * 32)


def _sequence_rows(seq: pd.DataFrame, lm: pd.DataFrame, csv_path: str) -> np.ndarray:
    """For each frame-index row of a sequence, the row of the landmarks table that holds it."""
    from g2rl.media import is_video, truncation_note

    media = seq["media"].astype(str)
    if media.map(is_video).all():
        if media.nunique() != 1:
            raise G2RLError(f"{csv_path}: one sequence spans several videos: {sorted(media.unique())[:3]}")
        pos = pd.Series(np.arange(len(lm)), index=lm["frame"].to_numpy(np.int64))
        want = seq["media_frame"].to_numpy(np.int64)
        missing = ~np.isin(want, pos.index.to_numpy())
        if missing.any():
            first = int(want[missing][0])
            # the labels need frames the video did not decode: say so in the container's terms
            note = truncation_note(media.iloc[0], len(lm))  # one landmarks row per decoded frame
            raise G2RLError(
                f"{csv_path}: landmarks cover video frames {int(lm['frame'].min())}..{int(lm['frame'].max())} "
                f"({len(lm)} rows) but the frame index needs video frame {first} of {media.iloc[0]} "
                f"({int(missing.sum())} indexed frames not covered; video shorter than the labels?)"
                + (f"; {note}" if note else "")
            )
        return pos.loc[want].to_numpy()
    if "file" not in lm.columns:
        raise G2RLError(f"{csv_path}: image sequence but the landmarks CSV has no 'file' column")
    pos = {os.path.normpath(str(f)): i for i, f in enumerate(lm["file"])}
    rows = []
    for m in media:
        key = os.path.normpath(m)
        if key not in pos:
            raise G2RLError(f"{csv_path}: has no landmarks for image {m} (listed in the frame index)")
        rows.append(pos[key])
    return np.asarray(rows, dtype=np.int64)


def build_crop_cache(
    frame_index: pd.DataFrame,
    landmark_csvs: dict,
    out_h5: str | os.PathLike,
    crop_size: int,
    aus: list[str],
    au_point_mapping: dict,
    max_gap: int,
    log=None,
    progress: bool = True,
) -> dict:
    """Align every indexed frame of one dataset and write ``out_h5`` (layout: module doc).

    Args:
        frame_index: the dataset's frame index (docs/CONTRACTS.md), one dataset only.
        landmark_csvs: (subject, session) -> landmarks CSV of that sequence.
        out_h5: output file (written atomically).
        crop_size: S, a multiple of 4 (the heatmap stride).
        aus: the dataset's K AU columns, in output order.
        au_point_mapping: AU -> points (see :mod:`g2rl.preprocess.au_points`).
        max_gap: the flag policy's carry distance in frames (:func:`apply_flag_policy`).
        log: a ``logging.Logger`` or a callable taking one string; default: this module's logger.
        progress: show a tqdm bar over the frames.

    Returns:
        counts: ``frames_indexed``, ``frames_written``, ``frames_excluded`` and per sequence
        ``"subject/session"`` -> ``indexed, detected, carried, missing`` (over indexed frames) and
        ``media_frames, media_frames_no_face`` (over the whole landmarks table).
    """
    import h5py
    from tqdm import tqdm

    say = _logger(log)
    t_start = time.perf_counter()
    missing_cols = [c for c in (*INDEX_COLUMNS, *aus) if c not in frame_index.columns]
    if missing_cols:
        raise G2RLError(f"frame index lacks columns {missing_cols}")
    if crop_size <= 0 or crop_size % HEATMAP_STRIDE:
        raise G2RLError(f"crop_size must be a positive multiple of {HEATMAP_STRIDE}, got {crop_size}")
    validate_au_mapping(aus, au_point_mapping)
    datasets = frame_index["dataset"].astype(str).unique()
    if len(datasets) != 1:
        raise G2RLError(f"{out_h5}: one cache per dataset, but the frame index holds {sorted(datasets)}")
    if len(frame_index) == 0:
        raise G2RLError(f"{out_h5}: the frame index is empty")
    # reset_index already gives a new frame; the text casts below never touch the caller's
    index = frame_index.reset_index(drop=True)
    for col in ("subject", "session", "split"):
        index[col] = index[col].astype(str)

    # Pass 1 (landmark tables only, cheap): the policy decides which frames are kept, so N is
    # known before any pixel is read. Only the kept rows are remembered: pass 2 reads each
    # sequence's landmarks again, so memory holds one sequence's arrays, not the dataset's
    # (at DISFA's 130,815 frames the held arrays grew the job by ~2 KB per frame; issue 21).
    plan = []  # (key, the sequence's frame-index rows, its kept rows (in reading order), landmarks CSV)
    counts: dict = {"dataset": str(datasets[0]), "frames_indexed": len(index), "sequences": {}}
    for (subject, session), seq in index.groupby(["subject", "session"], sort=False):
        key = f"{subject}/{session}"
        csv_path = landmark_csvs.get((subject, session))
        if csv_path is None:
            raise G2RLError(f"no landmarks CSV given for sequence {key}")
        kept, _, _, seq_counts = _sequence_landmarks(seq, csv_path, max_gap, key)
        counts["sequences"][key] = seq_counts
        if seq_counts["missing"] or seq_counts["carried"]:
            say(f"{key}: {seq_counts['missing']} of {len(seq)} indexed frames excluded (no face within "
                f"{max_gap} frames), {seq_counts['carried']} carried; {seq_counts['media_frames_no_face']} of "
                f"{seq_counts['media_frames']} frames in {Path(str(csv_path)).name} without a face")
        plan.append((key, seq.index.to_numpy(), kept, csv_path))
    n = sum(len(p[2]) for p in plan)
    counts["frames_written"] = n
    counts["frames_excluded"] = len(index) - n
    if n == 0:
        raise G2RLError(f"{out_h5}: every indexed frame was excluded by the no-face policy")

    k, p_max = len(aus), max_points(aus, au_point_mapping)
    check_free_space(out_h5, crops_bytes(n, crop_size, k, p_max), f"a crops cache of {n} frames of {crop_size}x{crop_size}")
    bar = tqdm(total=n, desc=f"crops {counts['dataset']}", unit="frame", disable=not progress, leave=False)
    with h5_output(out_h5) as (f, tmp):
        text = h5py.string_dtype()
        out = {
            "images": f.create_dataset("images", (n, crop_size, crop_size, 3), np.uint8,
                                       chunks=(1, crop_size, crop_size, 3)),
            "landmarks": f.create_dataset("landmarks", (n, 68, 2), np.float32),
            "frame_landmarks": f.create_dataset("frame_landmarks", (n, 68, 2), np.float32),
            "au_points": f.create_dataset("au_points", (n, k, p_max, 2), np.float32),
            "intensities": f.create_dataset("intensities", (n, k), np.float32),
            **{col: f.create_dataset(col, (n,), text) for col in ("subject", "session", "split", "landmark_source")},
            **{col: f.create_dataset(col, (n,), np.int64) for col in ("frame", "media_frame")},
        }
        row = 0
        for key, seq_rows, kept_pass1, csv_path in plan:
            if len(kept_pass1) == 0:
                continue
            kept, pts, src, _ = _sequence_landmarks(index.loc[seq_rows], csv_path, max_gap, key)
            if not np.array_equal(kept, kept_pass1):  # the CSV changed between the passes
                raise G2RLError(f"{csv_path}: changed while the crops cache was being written ({key})")
            _write_sequence(out, index.loc[kept], pts, src, row, crop_size, aus, au_point_mapping, csv_path, bar)
            row += len(kept)
        bar.close()
        write_content_digests(f, DIGESTED_DATASETS, out_h5)
        f.attrs.update({
            "format_version": FORMAT_VERSION, "kind": "crops", "dataset": counts["dataset"],
            "aus": json.dumps(list(aus)), "crop_size": int(crop_size),
            "au_point_mapping": json.dumps({au: au_point_mapping[au] for au in aus}),
            "max_gap": int(max_gap), "heatmap_stride": HEATMAP_STRIDE, "fingerprint": uuid.uuid4().hex,
            "n_frames": n, "counts": json.dumps(counts),
            **dataset_attrs(frame_index),  # demo or real, media root, frame-index fingerprint (provenance)
        })
    dt = time.perf_counter() - t_start
    say(f"{out_h5}: {n} crops of {crop_size}x{crop_size} written, {counts['frames_excluded']} of "
        f"{len(index)} indexed frames excluded by the no-face policy ({dt:.1f} s)")
    return counts


def _sequence_landmarks(seq: pd.DataFrame, csv_path, max_gap: int, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """One sequence's landmarks under the no-face policy.

    Returns (kept: the frame-index rows written, sorted by video frame for sequential decoding,
    (m,); pts: their landmarks in frame px, (m, 68, 2) float64; src: their landmark_source, (m,);
    counts: indexed / detected / carried / missing over the indexed frames, media_frames and
    media_frames_no_face over the landmarks table).
    """
    from g2rl.media import is_video

    lm, lm_counts = apply_flag_policy(read_landmarks_csv(csv_path), max_gap, name=f"{csv_path} ({key})")
    rows = _sequence_rows(seq, lm, str(csv_path))
    source = lm["landmark_source"].to_numpy()[rows]
    seq_counts = {s: int((source == s).sum()) for s in ("detected", "carried", "missing")}
    seq_counts.update(indexed=len(seq), media_frames=lm_counts["frames"],
                      media_frames_no_face=lm_counts["frames"] - lm_counts["detected"])
    keep = source != "missing"
    kept, pts, src = seq.index.to_numpy()[keep], landmark_array(lm)[rows[keep]], source[keep]
    if len(kept) and is_video(seq["media"].iloc[0]):
        order = np.argsort(seq.loc[kept, "media_frame"].to_numpy(), kind="stable")
        kept, pts, src = kept[order], pts[order], src[order]
    return kept, pts, src, seq_counts


def _write_sequence(out: dict, rows: pd.DataFrame, pts: np.ndarray, src: np.ndarray, start: int, crop_size: int,
                    aus: list[str], au_point_mapping: dict, csv_path, bar) -> None:
    """Align one sequence's kept frames and write them, and their geometry, labels and keys, to
    rows ``start .. start + len(rows)`` of the crops file's datasets ``out`` (name -> h5py dataset).

    rows: their frame-index rows (media, media_frame, keys, AU columns); pts (m, 68, 2) frame px.
    """
    from g2rl.media import is_video, iter_video_frames, read_image

    media = rows["media"].astype(str).to_numpy()
    media_frames = rows["media_frame"].to_numpy(np.int64)
    if is_video(media[0]):
        frames = _video_frames(iter_video_frames(media[0]), media_frames, media[0])
    else:
        frames = (read_image(m) for m in media)
    aligned = np.empty((len(rows), 68, 2), np.float32)
    for i, frame in enumerate(frames):
        where = f"{csv_path}: landmarks of {media[i]}" + (f" frame {media_frames[i]}" if is_video(media[i]) else "")
        out["images"][start + i], aligned[i] = _align(frame, pts[i], crop_size, where)
        bar.update(1)
    span = slice(start, start + len(rows))
    out["landmarks"][span] = aligned
    out["frame_landmarks"][span] = pts.astype(np.float32)
    out["au_points"][span] = au_points(aligned, aus, au_point_mapping).astype(np.float32)
    out["intensities"][span] = rows[list(aus)].to_numpy(np.float32)
    for col in ("subject", "session", "split"):
        out[col][span] = rows[col].astype(str).to_numpy(object)
    for col in ("frame", "media_frame"):
        out[col][span] = rows[col].to_numpy(np.int64)
    out["landmark_source"][span] = src.astype(object)


def _align(frame: np.ndarray, points: np.ndarray, crop_size: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(crop (S, S, 3) uint8, landmarks (68, 2) crop px) of one frame (H, W, 3) and its (68, 2) frame-px
    landmarks. Landmarks that are no face fit (far outside the frame, collinear alignment points)
    are an error naming ``where`` (the landmarks CSV and the frame), not a black crop with a label."""
    try:
        check_landmarks_in_frame(points, frame.shape[:2])
        m = alignment_matrix(points, crop_size)
    except G2RLError as exc:
        raise G2RLError(f"{where}: {exc}") from None
    return warp_to_crop(frame, m, crop_size), transform_points(points, m)


def _video_frames(frames, wanted: np.ndarray, video: str):
    """Yield the frames with the (sorted) indices ``wanted`` from a sequential frame iterator."""
    pos = decoded = 0
    for i, frame in enumerate(frames):
        decoded = i + 1
        while pos < len(wanted) and wanted[pos] == i:  # a frame may be indexed twice
            yield frame
            pos += 1
        if pos == len(wanted):
            return
    from g2rl.media import truncation_note

    note = truncation_note(video, decoded) or f"{video}: the video ends after {decoded} frames"
    raise G2RLError(f"{note}; the frame index needs frame {int(wanted[pos])} (labels need frames the video lacks)")


def build_heatmap_cache(
    crops_h5: str | os.PathLike, sigma: float, out_h5: str | os.PathLike, compression: str | None = "gzip", log=None,
    layout: str = "per_au", peak: str = "eq1", mapping: dict | None = None, block: int = 256,
) -> dict:
    """Render Eq. 1 heatmaps for every sample of a crops file and write ``out_h5``.

    ``heatmaps`` float16 (N, C, S/4, S/4), one sample per chunk, compressed with
    ``compression`` (``"gzip"`` at level :data:`GZIP_LEVEL`, ``"lzf"`` or None), in ``layout`` with the
    ``peak`` convention.
    ``mapping`` (AU -> points): None = the points the crops file stores; else the points are
    computed afresh from its aligned landmarks (another mapping without re-aligning any frame).
    ``sigma`` (heatmap px) must be finite and within :func:`g2rl.sigma_range.sigma_bounds`;
    a block of maps that is not finite anyway is refused before it is written.
    ``block``: rows rendered (and read from the crops file) at a time; memory does not depend on N.
    Returns the written attributes.
    """
    say = _logger(log)
    t0 = time.perf_counter()
    # The crops file stays open and each block reads only its own rows' points and intensities: holding
    # them all (plus a float64 copy) grew the job's memory by ~0.7 KB per frame (the paper-scale
    # rehearsal, docs/PERFORMANCE.md); now it does not grow with the dataset.
    with open_h5(crops_h5) as fc:
        attrs = validate_crops_file(fc, crops_h5)
        sigma = check_sigma(sigma, attrs["crop_size"] // HEATMAP_STRIDE, f"{out_h5}: sigma")
        n, k = fc["intensities"].shape
        if mapping is None:
            mapping = attrs["au_point_mapping"]

            def block_points(a: int, b: int) -> np.ndarray:
                return read_rows(fc["au_points"], slice(a, b), crops_h5)
        else:
            validate_au_mapping(attrs["aus"], mapping)

            def block_points(a: int, b: int) -> np.ndarray:
                return au_points(read_rows(fc["landmarks"], slice(a, b), crops_h5), attrs["aus"], mapping).astype(np.float32)
        mapping = {au: mapping[au] for au in attrs["aus"]}
        channel_au = channel_aus(attrs["aus"], mapping, layout)
        c = len(channel_au)
        size = attrs["crop_size"] // HEATMAP_STRIDE
        out_attrs = {
            "format_version": FORMAT_VERSION, "kind": "heatmaps", "sigma": float(sigma),
            "crops_fingerprint": attrs["fingerprint"], "aus": json.dumps(attrs["aus"]),
            "crop_size": attrs["crop_size"], "heatmap_size": size, "heatmap_stride": HEATMAP_STRIDE,
            "n_frames": n, "compression": str(compression), "fingerprint": uuid.uuid4().hex,
            "layout": layout, "peak": peak, "au_point_mapping": json.dumps(mapping), "channel_au": json.dumps(channel_au),
        }
        raw_bytes = n * c * size * size * 2  # float16
        what = f"{n} x {c} heatmaps of {size}x{size}"
        if compression is None:
            check_free_space(out_h5, raw_bytes, what)
        with h5_output(out_h5) as (f, tmp):
            ds = f.create_dataset("heatmaps", (n, c, size, size), np.float16, chunks=(1, c, size, size),
                                  compression=compression, compression_opts=GZIP_LEVEL if compression == "gzip" else None)
            for start in range(0, n, block):
                stop = min(n, start + block)
                hm_points = crop_to_heatmap(block_points(start, stop).astype(np.float64), HEATMAP_STRIDE)
                intens = read_rows(fc["intensities"], slice(start, stop), crops_h5)
                with np.errstate(over="ignore"):  # an overflow to inf is reported by the check below
                    maps = np.stack([render_layout(hm_points[i], intens[i], sigma, size, layout, peak)
                                     for i in range(stop - start)]).astype(np.float16)
                _check_finite_maps(maps, start, out_h5, sigma)
                ds[start:stop] = maps
                if start == 0 and compression is not None and stop < n:
                    # compressed size is unknown up front: extrapolate from the first block on disk
                    f.flush()
                    check_free_space(out_h5, int(os.path.getsize(tmp) * (n - stop) / stop), what)
            f.attrs.update(out_attrs)
    say(f"{out_h5}: {n} x {c} heatmaps {size}x{size} ({layout}, peak {peak}) at sigma={sigma} "
        f"({time.perf_counter() - t0:.1f} s)")
    return out_attrs


def _check_finite_maps(maps: np.ndarray, start: int, out_h5, sigma: float) -> None:
    """Refuse a block of rendered maps ((B, C, H, W) float16, rows ``start``..) holding NaN or inf
    (float16 overflow): a map that cannot be trained on must not be written as if it could."""
    bad = ~np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
    if bad.any():
        raise G2RLError(f"{out_h5}: the heatmaps of {int(bad.sum())} rows (first: row {start + int(np.argmax(bad))}) "
                        f"are not finite at sigma={sigma:g} (nothing written)")


# -- opening and validation (shared with the reader) ------------------------------------------

def _attr(f, name: str, path) -> object:
    if name not in f.attrs:
        raise G2RLError(f"{path}: missing attribute '{name}' (not a g2rl cache or written by another version)")
    value = f.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def _shape(f, name: str, path) -> tuple:
    if name not in f:
        raise G2RLError(f"{path}: missing dataset '{name}'")
    return f[name].shape


def validate_crops_file(f, path) -> dict:
    """Check a crops file's attributes, every dataset's shape and the content digests of its small datasets
    (:data:`DIGESTED_DATASETS`); return its attributes (JSON decoded)."""
    if _attr(f, "kind", path) != "crops":
        raise G2RLError(f"{path}: not a crops cache (kind={_attr(f, 'kind', path)!r})")
    attrs = {name: _attr(f, name, path) for name in CROPS_ATTRS}
    for name in ("aus", "au_point_mapping", "counts"):
        attrs[name] = json.loads(attrs[name])
    for name in ("crop_size", "n_frames", "max_gap", "heatmap_stride", "format_version"):
        attrs[name] = int(attrs[name])
    n, s, k = attrs["n_frames"], attrs["crop_size"], len(attrs["aus"])
    p = max(len(v) for v in attrs["au_point_mapping"].values())
    expected = {"images": (n, s, s, 3), "landmarks": (n, 68, 2), "au_points": (n, k, p, 2), "intensities": (n, k),
                **{key: (n,) for key in KEY_DATASETS}}
    for name, shape in expected.items():
        if _shape(f, name, path) != shape:
            raise G2RLError(f"{path}: dataset '{name}' has shape {_shape(f, name, path)}, expected {shape}")
    if f["images"].dtype != np.uint8:
        raise G2RLError(f"{path}: 'images' must be uint8, found {f['images'].dtype}")
    verify_content_digests(f, path)  # labels, landmarks, points, keys: what fletcher32 misses
    return attrs


def validate_heatmaps_file(f, path, crops_attrs: dict) -> dict:
    """Check a heatmaps file against the crops file it claims to come from; return its attributes."""
    if _attr(f, "kind", path) != "heatmaps":
        raise G2RLError(f"{path}: not a heatmaps cache (kind={_attr(f, 'kind', path)!r})")
    attrs = {name: _attr(f, name, path) for name in ("sigma", "crops_fingerprint", "aus", "heatmap_size", "n_frames")}
    attrs["aus"] = json.loads(attrs["aus"])
    # files written before the layouts existed: per_au, eq1 peak, the crops file's points
    attrs["layout"] = _attr(f, "layout", path) if "layout" in f.attrs else "per_au"
    attrs["peak"] = _attr(f, "peak", path) if "peak" in f.attrs else "eq1"
    attrs["au_point_mapping"] = (json.loads(_attr(f, "au_point_mapping", path)) if "au_point_mapping" in f.attrs
                                 else crops_attrs["au_point_mapping"])
    attrs["channel_au"] = (json.loads(_attr(f, "channel_au", path)) if "channel_au" in f.attrs
                           else list(range(len(attrs["aus"]))))
    if attrs["crops_fingerprint"] != crops_attrs["fingerprint"]:
        raise G2RLError(f"{path}: built from another crops file (fingerprint {attrs['crops_fingerprint']}, "
                        f"crops file has {crops_attrs['fingerprint']}); rebuild the heatmaps")
    if attrs["aus"] != crops_attrs["aus"]:
        raise G2RLError(f"{path}: AU list {attrs['aus']} differs from the crops file's {crops_attrs['aus']}")
    n, c, h = crops_attrs["n_frames"], len(attrs["channel_au"]), crops_attrs["crop_size"] // HEATMAP_STRIDE
    if _shape(f, "heatmaps", path) != (n, c, h, h):
        raise G2RLError(f"{path}: 'heatmaps' has shape {_shape(f, 'heatmaps', path)}, expected {(n, c, h, h)} "
                        f"({attrs['layout']} layout)")
    # a file built before sigma was range-checked (sigma inf, nan, 0.001): its maps are zero, NaN or inf
    attrs["sigma"] = check_sigma(attrs["sigma"], h, f"{path}: built with sigma")
    return attrs
