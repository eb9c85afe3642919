"""Cache rows served a whole batch at a time: what training and prediction read from the HDF5 cache.

A :class:`RowBatches` holds its rows' small arrays in memory and gives whole batches as stored, with no
per-sample work: the images and heatmaps of a batch are read into preallocated buffers (or sliced from
memory when the fold is held there). Float conversion, ImageNet normalisation and the heatmaps'
finiteness check happen on the training device (:func:`g2rl.training.feed.to_device`).

``RowBatches.batch(positions)``, B = len(positions), CPU tensors as stored:

    image            uint8   (B, S, S, 3)      RGB crop, S = crop_size
    heatmaps         float16 (B, C, S/4, S/4)  Eq. 1 targets (read from a heatmaps file; C = channels)
    au_centres       float32 (B, K, P, 2)      instead of ``heatmaps`` when the maps are rendered on the
                                               device (``heatmap_source="device"``, g2rl.preprocess.map_renderer)
    intensity        float32 (B, K)            AU labels, NaN = unlabelled
    landmarks        float32 (B, 68, 2)        crop px, after alignment
    frame_landmarks  float32 (B, 68, 2)        original frame px (caches that store them)
    row              int64   (B,)              the cache row of each sample

Reading a batch from the files: its rows in ascending order, one HDF5 read of one row's hyperslab
straight into that row's slot of the buffer (the writers store one row per chunk; h5py's list indexing,
12.5 ms per sample in issue 27, is never used). Reads go through HDF5's filter pipeline, so every chunk's Fletcher-32
checksum is still verified and a damaged chunk is one :class:`G2RLError` naming the file and row; that
costs ~0.08 ms per 256 px image over a raw chunk read that skips the check (docs/PERFORMANCE.md, "Loader
and GPU readiness").
The feed announces batches before it reads them (:meth:`RowBatches.advise`: a few threads read their
image and heatmap chunks into the page cache), so a cold cache is read with several requests in flight
instead of one at a time.

Files are opened lazily, once per process (HDF5 handles must not cross a fork: each DataLoader worker
opens its own) and validated again there (:func:`g2rl.preprocess.cache.validate_crops_file`,
``validate_heatmaps_file``), so a file replaced after the set-up is caught too.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from g2rl.errors import ConfigError, G2RLError
from g2rl.preprocess.au_points import au_points
from g2rl.preprocess.cache import validate_crops_file, validate_heatmaps_file
from g2rl.preprocess.h5read import damaged, open_h5, read_rows
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE
from g2rl.preprocess.map_renderer import CHECK_ROWS, HEATMAP_SOURCES, MapRenderer, check_against_cache

# ImageNet statistics (RGB, on [0, 1] pixels) for the ImageNet-pretrained backbone: a model's input is
# (image / 255 - mean) / std (g2rl.training.feed.to_device; predict reads them from the checkpoint)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SMALL = {"intensity": "intensities", "landmarks": "landmarks", "frame_landmarks": "frame_landmarks"}  # field: dataset
LARGE = ("image", "heatmaps")  # read per batch unless the rows are held in memory
READ_AHEAD_THREADS = 4  # chunk reads in flight on a cold cache (docs/PERFORMANCE.md, "Loader and GPU readiness")


def read_cache_attrs(crops_h5: str | os.PathLike) -> dict:
    """Validated attributes of a crops file (``aus``, ``au_point_mapping``, ``counts`` decoded)."""
    with open_h5(crops_h5) as f:
        return validate_crops_file(f, crops_h5)


def read_cache_keys(crops_h5: str | os.PathLike) -> pd.DataFrame:
    """Frame keys of a crops file, one row per cache row: subject, session, frame, split."""
    with open_h5(crops_h5) as f:
        validate_crops_file(f, crops_h5)
        return pd.DataFrame({
            "subject": f["subject"].asstr()[...],
            "session": f["session"].asstr()[...],
            "frame": f["frame"][...].astype(np.int64),
            "split": f["split"].asstr()[...],
        })


def cache_identity(crops_h5: str | os.PathLike, heatmaps_h5: str | os.PathLike | None = None) -> tuple[dict, dict]:
    """(dataset, caches) records of a crops file (and its heatmaps file). A cache written before
    these attributes existed reports kind 'unknown' and null fields, never guesses."""
    def attr(f, name):
        value = f.attrs.get(name)
        return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))

    with open_h5(crops_h5) as f:
        dataset = {
            "name": attr(f, "dataset"),
            "kind": attr(f, "data_kind") or "unknown",
            "media_root": attr(f, "media_root"),
            "frame_index_fingerprint": attr(f, "frame_index_fingerprint"),
        }
        caches = {"crops": attr(f, "fingerprint"), "crops_file": str(crops_h5)}
    if heatmaps_h5 is not None:
        with open_h5(heatmaps_h5) as f:
            caches.update(heatmaps=attr(f, "fingerprint"), heatmaps_file=str(heatmaps_h5))
    return dataset, caches


class _RowReader:
    """One dataset of one file (images or heatmaps), read one row per HDF5 call into a given buffer."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name

    def open(self, f) -> None:
        """Bind to the open file ``f`` of this process: its dataset and dataspaces."""
        from h5py import h5s

        ds = f[self.name]
        self.dsid, self.shape = ds.id, ds.shape
        self.file_space = ds.id.get_space()
        self.mem_space = h5s.create_simple(self.shape[1:])
        self.count, self.zeros = (1, *self.shape[1:]), (0,) * (len(self.shape) - 1)

    def read(self, rows: np.ndarray, slots: np.ndarray, out: np.ndarray) -> None:
        """``out[slots[i]] = dataset[rows[i]]``; rows ascending. A read error names the file and row."""
        fs, ms, dsid, count, zeros = self.file_space, self.mem_space, self.dsid, self.count, self.zeros
        for row, slot in zip(rows.tolist(), slots.tolist()):
            fs.select_hyperslab((row, *zeros), count)
            try:
                dsid.read(ms, fs, out[slot])
            except OSError as exc:  # a chunk failing its checksum, a cut-short file
                raise damaged(self.path, exc, f"'{self.name}' row {row}") from exc


def chunk_offsets(ds) -> np.ndarray | None:
    """(byte offset, size) of the chunk holding each row of the h5py dataset ``ds``, (N, 2) int64; None
    for a contiguous dataset or an HDF5 older than 1.12.3 (which cannot list chunks)."""
    if ds.chunks is None or not hasattr(ds.id, "chunk_iter"):
        return None
    per = ds.chunks[0]
    chunks = np.zeros((-(-ds.shape[0] // per), 2), np.int64)

    def visit(info):
        chunks[info.chunk_offset[0] // per] = (info.byte_offset, info.size)

    try:
        ds.id.chunk_iter(visit)
    except (NotImplementedError, RuntimeError):
        return None
    return np.repeat(chunks, per, axis=0)[: ds.shape[0]]


class _ReadAhead:
    """Starts reading the chunks of given rows (each file's: the images, the heatmaps) into the page cache
    in the background and returns at once: ``READ_AHEAD_THREADS`` threads of this process ``pread`` the
    chunks' bytes and drop them, so a cold cache is read with several requests in flight while the caller
    works on the batches before. ``posix_fadvise(WILLNEED)``, used before, did not: one loading process read a
    cold cache at 966 samples/s with it, and announcing a whole heatmaps file left most of it on the disk
    (docs/PERFORMANCE.md, "Loader and GPU readiness"). Needs no HDF5 handle, only the
    chunks' places, listed once per file, and a plain descriptor per process and file; a read that fails
    is left to the HDF5 read after it, which names the file and row. The chunks are listed on the first
    call, so a fold held in memory, which is never announced, never lists them."""

    def __init__(self, datasets: list[tuple[Path, str]]) -> None:
        self.datasets = datasets  # (file, dataset name) per large field
        self.files: list[tuple[Path, np.ndarray]] | None = None  # (file, its rows' chunks), listed when first used
        self._pid, self._fds, self._pool = None, [], None

    def __call__(self, rows: np.ndarray) -> None:
        if self.files is None:
            self.files = []
            for path, name in self.datasets:
                with open_h5(path) as f:
                    chunks = chunk_offsets(f[name])
                if chunks is not None:
                    self.files.append((path, chunks))
        if not self.files or not len(rows):
            return
        if self._pid != os.getpid():  # threads and descriptors do not cross a fork
            self._fds = [os.open(path, os.O_RDONLY) for path, _ in self.files]
            self._pool = ThreadPoolExecutor(READ_AHEAD_THREADS, thread_name_prefix="g2rl-read-ahead")
            self._pid = os.getpid()
        parts = np.array_split(np.asarray(rows), min(READ_AHEAD_THREADS, len(rows)))
        for part in parts:
            self._pool.submit(_pread_all, [(fd, chunks[part]) for fd, (_, chunks) in zip(self._fds, self.files)])

    def __getstate__(self):
        return {**self.__dict__, "_pid": None, "_fds": [], "_pool": None}


def _pread_all(reads: list[tuple[int, np.ndarray]]) -> None:
    """For each (descriptor, (R, 2) chunk offsets and sizes): read the rows' chunks into the page cache,
    row by row across the files (a row's image, then its maps), dropping the bytes."""
    try:
        for row_chunks in zip(*(chunks.tolist() for _, chunks in reads)):
            for (fd, _), (offset, size) in zip(reads, row_chunks):
                if size:
                    os.pread(fd, size, offset)
    except OSError:
        pass  # the HDF5 read of these rows raises it with the file and row named


class _CacheFiles:
    """The crops file (and heatmaps file) of a RowBatches, opened once per process."""

    def __init__(self, crops_h5: Path, heatmaps_h5: Path | None, fingerprint: str) -> None:
        self.crops_h5, self.heatmaps_h5, self.fingerprint = crops_h5, heatmaps_h5, fingerprint
        self.readers = {"image": _RowReader(crops_h5, "images")}
        if heatmaps_h5 is not None:
            self.readers["heatmaps"] = _RowReader(heatmaps_h5, "heatmaps")
        self.advise = _ReadAhead([(r.path, r.name) for r in self.readers.values()])
        self._open_in = None  # pid of the process whose handles these are
        self._handles: list = []

    def _open(self) -> None:
        if self._open_in == os.getpid():
            return
        crops = open_h5(self.crops_h5)
        attrs = validate_crops_file(crops, self.crops_h5)
        if attrs["fingerprint"] != self.fingerprint:
            raise G2RLError(f"{self.crops_h5}: the file changed since the training data was set up")
        self._handles = [crops]
        self.readers["image"].open(crops)
        if self.heatmaps_h5 is not None:
            heat = open_h5(self.heatmaps_h5)
            validate_heatmaps_file(heat, self.heatmaps_h5, attrs)
            self._handles.append(heat)
            self.readers["heatmaps"].open(heat)
        self._open_in = os.getpid()

    def read(self, field: str, rows: np.ndarray, slots: np.ndarray, out: np.ndarray) -> None:
        self._open()
        self.readers[field].read(rows, slots, out)

    def shapes(self) -> dict[str, tuple]:
        """Per-row shape and dtype of each large field, read with a short-lived handle."""
        out = {}
        for field, reader in self.readers.items():
            with open_h5(reader.path) as f:
                out[field] = (f[reader.name].shape[1:], f[reader.name].dtype)
        return out

    def __getstate__(self):
        # open handles never travel to another process (a spawned worker reopens)
        return {**self.__dict__, "_open_in": None, "_handles": [],
                "readers": {f: _RowReader(r.path, r.name) for f, r in self.readers.items()}}


class RowBatches:
    """Rows served as whole batches (fields and dtypes: the module docstring).

    ``arrays``: per served row, the small fields (``intensity``, ``landmarks``, optional
    ``frame_landmarks``, ``row``) and, for rows held in memory, ``image`` and ``heatmaps``. ``files``:
    where ``image`` / ``heatmaps`` are read from per batch when ``arrays`` lacks them, ``large_shapes``
    their per-row (shape, dtype). ``attrs`` / ``heatmap_attrs``: the files' validated attributes
    (g2rl.preprocess.cache), None for rows that come from no cache. ``renderer``: renders the target maps
    from ``au_centres`` on the device (g2rl.training.feed.to_device) where they are not read from a file.
    """

    def __init__(self, arrays: dict[str, np.ndarray], files: _CacheFiles | None = None,
                 large_shapes: dict[str, tuple] | None = None, attrs: dict | None = None,
                 heatmap_attrs: dict | None = None, renderer: MapRenderer | None = None) -> None:
        self.arrays = arrays
        self.renderer = renderer
        self.files = files
        self.large = {f: (a.shape[1:], a.dtype) for f, a in arrays.items() if f in LARGE}
        self.large.update(large_shapes or {})
        self.rows = arrays["row"]
        self.attrs, self.heatmap_attrs = attrs, heatmap_attrs

    @property
    def crop_size(self) -> int:
        """S, the side of the stored crops (px)."""
        return int(self.large["image"][0][0])

    @property
    def heatmap_size(self) -> int:
        """S / 4, the side of the heatmaps (px)."""
        return self.crop_size // HEATMAP_STRIDE

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def in_memory(self) -> bool:
        return self.files is None

    def nbytes_large(self) -> int:
        """Bytes of the served rows' images and heatmaps as stored."""
        return len(self) * sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in self.large.values())

    def advise(self, positions: np.ndarray) -> None:
        """Start reading the chunks of ``positions`` (a batch to come) in the background."""
        if self.files is not None and len(positions):
            self.files.advise(np.sort(self.rows[positions]))

    def batch(self, positions, out: dict[str, torch.Tensor] | None = None, pin: bool = False) -> dict[str, torch.Tensor]:
        """The batch of ``positions`` (B,) ints, in that order. Images and heatmaps read from the files go
        into ``out`` (field -> a (B, ...) tensor of the stored dtype, e.g. a worker's slot of shared memory)
        or into new buffers, page-locked with ``pin`` (copied to a CUDA device asynchronously)."""
        positions = np.asarray(positions, np.int64)
        batch = {f: torch.from_numpy(a[positions]) for f, a in self.arrays.items()}
        if pin:  # a copy from ordinary memory to a CUDA device would make the host wait for it
            batch = {f: t if f == "row" else t.pin_memory() for f, t in batch.items()}
        if self.files is None:
            return batch
        rows = self.rows[positions]
        order = np.argsort(rows, kind="stable")
        for field, (shape, dtype) in self.large.items():
            buf = out[field] if out is not None else torch.empty((len(rows), *shape), dtype=torch_dtype(dtype),
                                                                 pin_memory=pin)
            self.files.read(field, rows[order], order, buf.numpy())
            batch[field] = buf
        return batch


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype of a stored large field (uint8 images, float16 heatmaps)."""
    return {np.dtype(np.uint8): torch.uint8, np.dtype(np.float16): torch.float16}[np.dtype(dtype)]


def open_cache_rows(crops_h5, heatmaps_h5=None, rows=None, in_memory: str = "auto", max_mb: float = 1024.0,
                    sigma: float | None = None, heatmap_source: str = "cache") -> RowBatches:
    """The rows ``rows`` (None = all) of a crops file and its heatmaps file (None = no targets) as
    :class:`RowBatches`. Both files are validated (shapes, N, AU list, that the heatmaps come from this
    crops file); ``sigma``, when given, must be the heatmaps file's. ``in_memory``: ``on`` reads the
    rows' images and heatmaps into memory now, ``off`` reads them per batch, ``auto`` holds them when
    they take at most ``max_mb`` MiB as stored. ``heatmap_source``: ``cache`` reads the maps from the
    heatmaps file; ``device`` serves each row's AU point centres instead, for the training device to
    render the file's maps from (:mod:`g2rl.preprocess.map_renderer`; checked against
    :data:`CHECK_ROWS` stored rows first)."""
    crops_h5 = Path(crops_h5)
    heatmaps_h5 = None if heatmaps_h5 is None else Path(heatmaps_h5)
    if in_memory not in ("auto", "on", "off"):
        raise ConfigError(f"in_memory must be one of ('auto', 'on', 'off'), got {in_memory!r}")
    if heatmap_source not in HEATMAP_SOURCES:
        raise ConfigError(f"heatmap_source must be one of {HEATMAP_SOURCES}, got {heatmap_source!r}")
    with open_h5(crops_h5) as f:
        attrs = validate_crops_file(f, crops_h5)
        n = attrs["n_frames"]
        rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise G2RLError(f"{crops_h5}: requested rows outside 0..{n - 1}")
        arrays = {field: read_rows(f[name], slice(0, n), crops_h5)[rows].astype(np.float32)
                  for field, name in SMALL.items() if name in f}
    arrays["row"] = rows
    heatmap_attrs = renderer = None
    if heatmaps_h5 is not None:
        with open_h5(heatmaps_h5) as f:
            heatmap_attrs = validate_heatmaps_file(f, heatmaps_h5, attrs)
        if sigma is not None and not np.isclose(sigma, heatmap_attrs["sigma"]):
            raise ConfigError(f"{heatmaps_h5}: built with sigma={heatmap_attrs['sigma']}, but sigma={sigma} was asked for")
        if heatmap_source == "device":
            renderer = _device_targets(arrays, crops_h5, attrs, heatmap_attrs, heatmaps_h5)
    files = _CacheFiles(crops_h5, None if renderer else heatmaps_h5, attrs["fingerprint"])
    source = RowBatches(arrays, files, files.shapes(), attrs, heatmap_attrs, renderer)
    if in_memory == "on" or (in_memory == "auto" and source.nbytes_large() <= max_mb * 2**20):
        source.arrays.update(_read_runs(files, rows, source.large))
        source.files = None
    return source


def _device_targets(arrays: dict, crops_h5: Path, attrs: dict, heatmap_attrs: dict,
                    heatmaps_h5: Path) -> MapRenderer:
    """The renderer of ``heatmaps_h5``'s maps; adds each row's point centres to ``arrays`` (``au_centres``).
    The points are the crops file's own (its ``au_points``, crop px) when the heatmaps file uses its AU
    mapping, else computed from the aligned landmarks as build_heatmap_cache does. Rendered maps of up to
    CHECK_ROWS rows, spread over ``arrays``' rows, must equal the stored ones (check_against_cache)."""
    aus, mapping = list(attrs["aus"]), heatmap_attrs["au_point_mapping"]
    renderer = MapRenderer.for_heatmaps(heatmap_attrs, aus, int(attrs["crop_size"]))
    rows = arrays["row"]
    if mapping == attrs["au_point_mapping"]:
        with open_h5(crops_h5) as f:
            points = read_rows(f["au_points"], slice(0, attrs["n_frames"]), crops_h5)[rows]
    else:
        points = au_points(arrays["landmarks"], aus, mapping).astype(np.float32)
    arrays["au_centres"] = renderer.centres(points)
    if len(rows):
        sample = np.unique(np.linspace(0, len(rows) - 1, min(CHECK_ROWS, len(rows))).astype(np.int64))
        with open_h5(heatmaps_h5) as f:
            stored = np.stack([read_rows(f["heatmaps"], slice(int(r), int(r) + 1), heatmaps_h5)[0]
                               for r in rows[sample]])
        check_against_cache(renderer, arrays["au_centres"][sample], arrays["intensity"][sample], stored,
                            rows[sample], heatmaps_h5)
    return renderer


def _read_runs(files: _CacheFiles, rows: np.ndarray, large: dict) -> dict[str, np.ndarray]:
    """Every row's images (and heatmaps) at once, one HDF5 slice per run of consecutive rows."""
    out = {field: np.empty((len(rows), *shape), dtype) for field, (shape, dtype) in large.items()}
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts, ends = np.concatenate([[0], breaks]), np.concatenate([breaks, [len(rows)]])
    for field, reader in files.readers.items():
        with open_h5(reader.path) as f:
            for a, b in zip(starts.tolist(), ends.tolist()) if len(rows) else ():
                out[field][a:b] = read_rows(f[reader.name], slice(int(rows[a]), int(rows[b - 1]) + 1), reader.path)
    return out
