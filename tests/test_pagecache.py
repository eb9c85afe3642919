"""benchmarks/pagecache.py: the cold-read helper measures what the page cache holds, for files larger than RAM too."""

from __future__ import annotations

import os

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def pagecache():
    return load_benchmark("pagecache")


def test_a_file_just_read_is_resident(pagecache, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(1 << 20))
    path.read_bytes()
    assert pagecache.resident_share(path) > 0.9
    (tmp_path / "empty").touch()
    assert pagecache.resident_share(tmp_path / "empty") == 0.0


def test_a_file_larger_than_ram_can_be_checked(pagecache, tmp_path):
    """The cold loader figure is measured on a cache larger than RAM; a private (copy-on-write) mapping of such
    a file is refused by the kernel (ENOMEM), so the check must map it shared and read-only."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as fh:
        fh.truncate(2 * ram)  # sparse: no disk used, no page resident
    assert pagecache.resident_share(path) == 0.0
    assert pagecache.evict(path) == 0.0
