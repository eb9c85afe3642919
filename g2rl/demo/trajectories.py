"""AU intensity time series and head-pose tracks for the demo videos.

Intensities are built from *events*: an expression prototype (e.g. a smile = AU6 + AU12, maybe
AU25) that rises, holds and falls (onset - apex - offset, raised-cosine ramps). Between events all
AUs rest at 0, so most frames are 0 for most AUs, and AUs co-occur the way the prototypes say
(AU6 with AU12, AU1 with AU2, AU25 with AU26, ...). Overlapping events combine by the maximum.
A guarantee step adds events until every AU in ``required`` reaches intensity >= 3 in at least
``min_strong_events`` separate events, so every subject (and so every fold) carries signal.
"""

from __future__ import annotations

import numpy as np

from g2rl.demo.expressions import AUS

# prototype -> {AU: (relative weight, probability that the AU takes part)}
PROTOTYPES: dict[str, dict[int, tuple[float, float]]] = {
    "smile": {6: (0.85, 0.9), 12: (1.0, 1.0), 25: (0.6, 0.3), 10: (0.35, 0.3), 26: (0.4, 0.2)},
    "surprise": {1: (1.0, 1.0), 2: (0.9, 0.95), 5: (0.8, 0.7), 25: (0.8, 0.6), 26: (0.8, 0.6)},
    "frown": {4: (1.0, 1.0), 17: (0.6, 0.5), 5: (0.4, 0.3), 9: (0.4, 0.3)},
    "sadness": {1: (0.8, 0.9), 4: (0.6, 0.7), 15: (1.0, 1.0), 17: (0.7, 0.6)},
    "disgust": {9: (1.0, 1.0), 10: (0.8, 0.8), 4: (0.5, 0.5), 17: (0.5, 0.4), 25: (0.4, 0.3)},
    "fear": {1: (0.8, 0.9), 2: (0.6, 0.7), 4: (0.6, 0.6), 5: (0.9, 0.9), 20: (1.0, 1.0), 25: (0.7, 0.5)},
    "dimpler": {14: (1.0, 1.0), 12: (0.35, 0.3), 17: (0.4, 0.3)},
    "upper_lip": {10: (1.0, 1.0), 25: (0.6, 0.3), 9: (0.3, 0.3)},
    "talk": {25: (1.0, 1.0), 26: (0.85, 0.8), 20: (0.3, 0.2)},
    "stretch": {20: (1.0, 1.0), 25: (0.5, 0.5), 4: (0.3, 0.3)},
    "chin": {17: (1.0, 1.0), 15: (0.5, 0.4), 14: (0.4, 0.3)},
    "lid": {5: (1.0, 1.0), 1: (0.5, 0.4), 2: (0.5, 0.4)},
}


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine rise from ~0 to 1 over n samples."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(1, n + 1) / (n + 1)))


def event_profile(onset: int, apex: int, offset: int) -> np.ndarray:
    """Unit-height onset-apex-offset shape, length onset + apex + offset."""
    return np.concatenate([_ramp(onset), np.ones(apex), _ramp(offset)[::-1]])


def _add_event(curves: dict[int, np.ndarray], rng: np.random.Generator, proto: str, n: int,
               force: int | None = None) -> None:
    """Add one event of ``proto`` at a random time; ``force`` makes that AU take part with a peak >= 3.5."""
    spec = PROTOTYPES[proto]
    peak = rng.uniform(1.5, 5.0)
    if force is not None:
        peak = max(peak, rng.uniform(3.6, 5.0) / spec[force][0])
    onset, apex, offset = int(rng.integers(3, 10)), int(rng.integers(3, 14)), int(rng.integers(4, 12))
    length = onset + apex + offset
    starts = rng.integers(-onset // 2, max(1, n - length // 2), size=8 if force is not None else 1)
    if force is not None:
        # Guarantee events go where the face is quietest, so they do not pile onto earlier events.
        busy = np.sum(list(curves.values()), axis=0)
        cost = [busy[max(0, int(s)): max(0, int(s) + length)].sum() for s in starts]
        start = int(starts[int(np.argmin(cost))])
    else:
        start = int(starts[0])
    for au, (weight, prob) in spec.items():
        if au != force and rng.random() > prob:
            continue
        shape = event_profile(onset, apex, offset)
        lag = int(rng.integers(-2, 3))  # AUs of one expression do not start on the same frame
        value = np.clip(peak * weight * rng.uniform(0.85, 1.15), 0.0, 5.0) * shape
        lo = start + lag
        seg = np.zeros(n)
        a, b = max(lo, 0), min(lo + length, n)
        if a < b:
            seg[a:b] = value[a - lo : b - lo]
        curves[au] = np.maximum(curves[au], seg)


def _strong_events(labels: np.ndarray) -> int:
    """Number of separate runs of frames with label >= 3."""
    strong = (labels >= 3).astype(np.int8)
    return int(np.sum(np.diff(np.concatenate([[0], strong])) == 1))


# the fewest frames an onset-apex-offset event fits in; the config schema's demo.disfa_frames and
# demo.bp4d_frames minimum says the same (tests/test_reliability_ranges.py keeps them equal)
MIN_EVENT_FRAMES = 20


def intensity_tracks(n_frames: int, rng: np.random.Generator, required: tuple[int, ...] = AUS,
                     min_strong_events: int = 2, events_per_100: float = 1.5) -> dict[int, np.ndarray]:
    """Smooth intensity curves for every AU in ``AUS``.

    Returns {AU: (n_frames,) float array in [0, 5]}: the continuous intensity the frames are
    rendered with. Labels are ``labels_from(curve)`` (rounded). Random events arrive at
    ``events_per_100`` per 100 frames; then events are added until each AU in ``required`` has at
    least ``min_strong_events`` separate stretches with label >= 3 (at most 50 extra events per AU).
    """
    if n_frames < MIN_EVENT_FRAMES:
        raise ValueError(f"n_frames={n_frames}: need at least {MIN_EVENT_FRAMES} frames per sequence for "
                         "onset-apex-offset events")
    curves = {au: np.zeros(n_frames) for au in AUS}
    names = sorted(PROTOTYPES)
    for _ in range(int(rng.poisson(events_per_100 * n_frames / 100.0))):
        _add_event(curves, rng, names[int(rng.integers(len(names)))], n_frames)
    # Repeat the pass: an event added for one AU can merge two strong stretches of another.
    for _ in range(20):
        added = False
        for au in required:
            holders = [p for p in names if au in PROTOTYPES[p]]
            for _ in range(50):
                if _strong_events(labels_from(curves[au])) >= min_strong_events:
                    break
                _add_event(curves, rng, holders[int(rng.integers(len(holders)))], n_frames, force=au)
                added = True
            else:
                raise RuntimeError(f"AU{au}: could not place {min_strong_events} strong events in {n_frames} frames")
        if not added:
            return curves
    raise RuntimeError(f"could not give every AU {min_strong_events} strong events in {n_frames} frames")


def labels_from(curve: np.ndarray) -> np.ndarray:
    """Integer 0-5 labels of a continuous intensity curve (round half up)."""
    return np.clip(np.floor(np.asarray(curve) + 0.5), 0, 5).astype(np.int64)


def smooth_noise(n: int, rng: np.random.Generator, components: int = 3) -> np.ndarray:
    """A slow wobble in about [-1, 1]: sum of a few sinusoids (0.005-0.05 cycles/frame), random phases."""
    t = np.arange(n)
    out = np.zeros(n)
    for _ in range(components):
        out += np.sin(2 * np.pi * rng.uniform(0.005, 0.05) * t + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(components * 0.5) / 1.6


def pose_track(n: int, rng: np.random.Generator, rot_deg: float, scale_frac: float, shift_px: float) -> np.ndarray:
    """Per-frame head pose jitter, (n, 4): in-plane rotation (deg), scale factor, dx, dy (px).

    A smooth drift (see :func:`smooth_noise`) times the given amplitudes, plus a small frame-to-frame
    tremor (5 % of the amplitudes), so consecutive frames differ and alignment is needed.
    """
    out = np.empty((n, 4))
    for k, amp in enumerate((rot_deg, scale_frac, shift_px, shift_px)):
        out[:, k] = amp * (smooth_noise(n, rng) + 0.05 * rng.standard_normal(n))
    out[:, 1] += 1.0
    return out
