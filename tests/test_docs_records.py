"""docs/PERFORMANCE.md and docs/CLUSTER.md quote measured figures only from records (benchmarks/records/*.json),
and the test count they state is the suite's.

* Every block between ``<!-- record: ... -->`` markers is exactly what benchmarks/records_docs.py renders from
  the records it names (so a figure there cannot drift from its record).
* In the sections built on records (listed in SECTIONS), every measured figure outside those blocks (a
  number with a unit: samples/s, img/s, ms, s, MB, GB, CPU-s, %, ...) is one of the figures of the records
  the section names or of its blocks, at the precision written; a sentence that says "estimate" is exempt.
  A figure without a record fails the test: give it a record, or drop it.
* The test count: one line states how many tests `pytest` collects, and it is this suite's count.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import records_docs  # noqa: E402

DOCS = {name: REPO / "docs" / name for name in ("PERFORMANCE.md", "CLUSTER.md")}
# (doc, heading that starts a section built on records); the section runs to the next heading of its level
SECTIONS = [("PERFORMANCE.md", "## Loader and GPU readiness"), ("PERFORMANCE.md", "### Rehearsed at the real size"),
            ("CLUSTER.md", "## How the sizes were set")]
UNITS = (r"samples/s|img/s|frames/s|rows/s|MB/s|GB/s|CPU-s|CPU-min|CPU-h|CPU-hours|CPU-minutes|ms|s|min|h|MB|GB|KB|"
         r"MiB|GiB|%|cores")
FIGURE = re.compile(rf"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?:\s?[-–]\s?(\d[\d,]*(?:\.\d+)?))?\s?(?:{UNITS})(?![\w/])")
SCALES = (1, 1e-3, 1e3, 1e-6, 1e6, 100, 1 / 1024, 1024, 1 / 2**20, 1 / 60, 1 / 3600, 1 / 1000 * 1024)


def section(doc: str, heading: str) -> str:
    text = DOCS[doc].read_text()
    start = text.index(heading + " ") if heading + " " in text else text.index(heading)
    level = heading.split()[0]
    rest = text[start + len(heading):]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, flags=re.M)]
    return heading + rest[: ends[0] if ends else len(rest)]


def numbers(value) -> list[float]:
    """Every number in a record (JSON leaves, and numbers inside its strings)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in numbers(v)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)] if math.isfinite(value) else []
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", str(value))]


def matches(written: str, pool: list[float]) -> bool:
    """Whether a figure as written (e.g. "1,047" or "0.39") is some pooled value, scaled by a unit change,
    rounded to the decimals written."""
    digits = len(written.split(".")[1]) if "." in written else 0
    x = float(written.replace(",", ""))
    return any(abs(round(v * f, digits) - x) < 10 ** -digits / 2 + 1e-9 for v in pool for f in SCALES)


def test_every_record_block_is_what_its_records_render():
    found = 0
    for doc, path in DOCS.items():
        for names, style, body in records_docs.blocks(path.read_text()):
            for n in names:
                assert (records_docs.RECORDS / n).is_file(), f"{doc}: block names {n}, which is not in benchmarks/records/"
            want = records_docs.render(names, style) + "\n"
            assert body == want, f"{doc}: the block of {names} differs from its records; run benchmarks/records_docs.py {path}"
            found += 1
    assert found >= 3


@pytest.mark.parametrize("doc, heading", SECTIONS)
def test_measured_figures_in_record_sections_come_from_records(doc, heading):
    text = section(doc, heading)
    cited = set(re.findall(r"([\w.-]+\.json)", text))
    assert cited, f"{doc} '{heading}': names no record"
    pool = [x for n in cited if (records_docs.RECORDS / n).is_file()
            for x in numbers(json.loads((records_docs.RECORDS / n).read_text()))]
    prose = records_docs.BLOCK.sub(lambda m: "", text)
    for _, _, body in records_docs.blocks(text):
        pool += numbers(body)
    missing = []
    for sentence in re.split(r"(?<=[.;:])\s+(?=[A-Z*(`])|\n\n|\n\|", prose):
        if "estimate" in sentence:
            continue
        for m in FIGURE.finditer(sentence):
            for written in filter(None, m.groups()):
                if not matches(written, pool):
                    missing.append(f"{written} in: ...{sentence[max(0, m.start() - 60): m.end() + 20]}...")
    assert not missing, f"{doc} '{heading}': figures without a record:\n" + "\n".join(missing)


def test_the_control_a_figure_without_a_record_is_found():
    pool = numbers({"samples_per_s": 1047.3, "cpu_ms_per_sample": 0.392, "disk_mb": 25943.1})
    assert matches("1,047", pool) and matches("0.39", pool) and matches("25.94", pool)
    assert not matches("459", pool) and not matches("0.5", pool)
    assert [m.group(1) for m in FIGURE.finditer("at 459 samples/s and 3.8 GB, batch 16")] == ["459", "3.8"]


def _collected() -> int:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", str(REPO / "tests")],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    found = re.search(r"(\d+) tests? collected", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    return int(found.group(1))


def test_the_stated_test_count_is_the_suites(request):
    text = DOCS["PERFORMANCE.md"].read_text()
    stated = re.findall(r"`make test` collects \*\*(\d+) tests\*\*", text)
    assert len(stated) == 1, "docs/PERFORMANCE.md states the test count once: `make test` collects **N tests**"
    others = [m.group(0) for doc in DOCS.values() for m in re.finditer(r"\b\d[\d,]* tests\b", doc.read_text())]
    assert others == [f"{stated[0]} tests"], f"test counts outside the checked line: {others}"
    # this session's own collection when it is the whole suite, else pytest --collect-only
    items = request.session.items
    files = {Path(str(i.fspath)).name for i in items}
    whole = files >= {p.name for p in (REPO / "tests").glob("test_*.py")} and not request.config.option.keyword \
        and not request.config.option.markexpr
    count = len(items) if whole else _collected()
    assert int(stated[0]) == count, f"docs/PERFORMANCE.md: write `make test` collects **{count} tests**"
