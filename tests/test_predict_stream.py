"""The landmark stage beside the network (g2rl.predict.stream): order kept, memory bounded,
errors handed over, worker processes within the fast path's 2 % IOD of one process.
(The 0-1 confidence: tests/test_predict_confidence.py.)"""

import threading
import time

import numpy as np
import pytest
import skimage.data

from g2rl.errors import MediaError
from g2rl.predict.stream import LandmarkStage, StageSettings
from g2rl.preprocess.landmarks import LandmarkDetector, inter_ocular_distance, landmark_array


def _astronaut_frames(n):
    """320x240 windows drifting over the astronaut photo (a ~90 px face)."""
    img = skimage.data.astronaut()
    return [np.ascontiguousarray(img[10 + 3 * i:250 + 3 * i, 60 + 2 * i:380 + 2 * i]) for i in range(n)]


def _source(frames):
    return ((i, "clip", f) for i, f in enumerate(frames))


def test_one_worker_matches_the_plain_tracker_frame_by_frame():
    """workers=1 (a thread) follows the whole video with one tracker: the same points, in the
    same order, as LandmarkDetector over the whole stream (what `g2rl landmarks` writes)."""
    frames = _astronaut_frames(12)
    stage = LandmarkStage(_source(frames), StageSettings(crop_size=64), track=True, where="clip", chunk_frames=5)
    got = list(stage)
    assert [g.position for g in got] == list(range(12))
    want = landmark_array(LandmarkDetector().frames(frames, track=True))
    np.testing.assert_array_equal(np.stack([g.faces[0].points for g in got]), want)
    assert all(g.faces[0].crop.shape == (64, 64, 3) for g in got)


def test_two_worker_processes_against_one_tracker():
    """2 worker processes (a detection at each chunk start) against one tracker over the whole
    video: the same frames in the same order; identical points with chunks that start on the
    tracker's own detection frames (the default: 3 periods of 11); within 2 % of the IOD with
    chunks of 4, which re-seed mid-period."""
    from g2rl.predict.stream import LandmarkPool, default_chunk_frames

    frames = _astronaut_frames(24)
    settings = StageSettings(crop_size=64)
    one = list(LandmarkStage(_source(frames), settings, track=True, where="clip"))
    a = np.stack([f.faces[0].points for f in one])
    period = LandmarkDetector().detection_period
    assert default_chunk_frames() == 3 * period == 33
    with LandmarkPool(True, 2) as pool:
        aligned = list(LandmarkStage(_source(frames), settings, track=True, where="clip", pool=pool,
                                     chunk_frames=period))
        off = list(LandmarkStage(_source(frames), settings, track=True, where="clip", pool=pool, chunk_frames=4))
    assert [f.position for f in aligned] == [f.position for f in off] == list(range(24))
    np.testing.assert_array_equal(np.stack([f.faces[0].points for f in aligned]), a)
    b = np.stack([f.faces[0].points for f in off])
    err = np.linalg.norm(a - b, axis=-1).mean(axis=-1) / inter_ocular_distance(a)
    assert err.mean() < 0.02, err
    np.testing.assert_array_equal(a[:4], b[:4])  # the first chunk starts where the tracker starts
    assert err.max() > 0  # mid-period re-seeding really changed some frames: the comparison can fail


def test_queue_bounds_how_far_the_producer_runs_ahead():
    pulled = []

    def source():
        for i in range(400):
            pulled.append(i)
            yield i, "blank", np.zeros((24, 24, 3), np.uint8)  # no face: cheap detection

    stage = LandmarkStage(source(), StageSettings(crop_size=64), track=True, where="blank", chunk_frames=4,
                          queue_chunks=2)
    it = iter(stage)
    first = next(it)
    time.sleep(0.5)  # a slow consumer: the producer must stop at the queue's bound
    assert first.position == 0 and first.faces == []
    # queue (2 chunks) + the chunk handed out + the chunk being built, each of 4 frames
    assert len(pulled) <= 4 * 4 + 1
    assert sum(1 for _ in it) == 399  # the rest arrives, in order, once consumed
    assert pulled == list(range(400))


def test_producer_errors_reach_the_consumer_by_name():
    def source():
        yield 0, "v.mp4", np.zeros((24, 24, 3), np.uint8)
        raise MediaError("v.mp4: cannot decode frame 1")

    stage = LandmarkStage(source(), StageSettings(crop_size=64), track=True, where="v.mp4", chunk_frames=1)
    with pytest.raises(MediaError, match="v.mp4: cannot decode frame 1"):
        list(stage)
    assert not any(t.name == "g2rl-landmarks" and t.is_alive() for t in threading.enumerate())


def test_faces_all_lists_every_face_largest_first():
    """Two copies of the astronaut's face, one at 1.4x: the larger comes first, and each face's
    points equal the single-face detection of that copy alone."""
    import cv2

    face = skimage.data.astronaut()[0:220, 100:320]
    big = cv2.resize(face, None, fx=1.4, fy=1.4, interpolation=cv2.INTER_CUBIC)
    canvas = np.full((330, 560, 3), 120, np.uint8)
    canvas[10:10 + big.shape[0], 0:big.shape[1]] = big
    canvas[40:260, 330:550] = face
    stage = LandmarkStage(_source([canvas]), StageSettings(crop_size=64, faces="all"), track=False, where="x")
    (ff,) = list(stage)
    assert len(ff.faces) == 2
    centres = [f.points.mean(axis=0)[0] for f in ff.faces]
    assert centres[0] < 330 < centres[1]  # the large face (left) first
    iod = inter_ocular_distance(np.stack([f.points for f in ff.faces]))
    assert iod[0] > 1.2 * iod[1]


def test_torch_threads_leave_the_landmark_stage_its_cores(monkeypatch):
    """torch gets the usable cores minus the landmark workers (at least 1), from the process's CPU
    affinity, and the caller's setting comes back after the block."""
    import os

    import torch

    from g2rl.predict import threads

    assert [threads.torch_threads_for(w, cores=c) for c, w in ((2, 1), (16, 1), (16, 4), (1, 1), (2, 3))] == [1, 15, 12, 1, 1]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert threads.torch_threads_for(1) == 2
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")  # a SLURM job's share, below what its affinity shows
    assert threads.torch_threads_for(1) == 1
    before = torch.get_num_threads()
    with threads.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
