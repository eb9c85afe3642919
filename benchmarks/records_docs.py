"""The figures docs/PERFORMANCE.md and docs/CLUSTER.md quote, rendered from the records in benchmarks/records/.

A doc holds each block between markers naming its records; the block is exactly what :func:`render` makes
of them, so a figure in it cannot drift from its record (tests/test_docs_records.py renders every block
again and compares):

    <!-- record: rehearsal_disfa_full_2026-12-03.json, rehearsal_bp4d_1of9_2026-12-03.json -->
    ...
    <!-- record: end -->

(``<!-- record: a.json, b.json | sizing -->`` asks for another view of the same records.)

    python benchmarks/records_docs.py docs/PERFORMANCE.md docs/CLUSTER.md    # rewrite the blocks from the records
    python benchmarks/records_docs.py --check docs/PERFORMANCE.md           # exit 1 where a block differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "records"
BLOCK = re.compile(r"<!-- record: (?P<names>[^>]+?) -->\n(?P<body>.*?)<!-- record: end -->", re.S)


def load(name: str) -> dict:
    return json.loads((RECORDS / name).read_text())


def _machine(r: dict) -> str:
    m = r["machine"]
    return (f"{m.get('Model name', '?')}, {m.get('nproc')} cores, {m.get('mem_gib')} GiB; commit {r.get('commit') or m.get('commit')}"
            f"{' (uncommitted changes)' if (r.get('dirty') or m.get('dirty')) else ''}; {r['started']}; load average "
            f"{r['load_start']} at the start, {r.get('load_end', '?')} at the end")


def _loader(r: dict) -> str:
    s, res = r["settings"], r["results"]
    temp = "cold: the files' pages dropped before each setting, rows never read before" if s["cold"] else "warm"
    best = f"; the cheapest of {s['repeats']} runs per setting in CPU" if s.get("repeats", 1) > 1 else ""
    path = {"cache": "HDF5 DataLoader, stored heatmaps",
            "device": "HDF5 DataLoader, maps rendered on the device"}[s.get("heatmap_source", "cache")]
    lines = [f"`{r['command']}` ({temp}; batch {s['batch']}, {s['samples']} shuffled samples{best}; {_machine(r)}):", "",
             "| path | samples/s (wall) | CPU ms per sample, all processes | of which the training process "
             "| training process waited for a CPU |", "|---|---:|---:|---:|---:|"]
    for key, v in res.items():
        if key.startswith("hdf5_"):
            w = key.split("_")[1]
            lines.append(f"| {path}, {w} workers | {v['samples_per_s']:,.0f} | "
                         f"{v['cpu_ms_per_sample']:.3f} | {v['main_cpu_ms_per_sample']:.3f} | "
                         f"{v['main_waited_for_cpu_s']:.1f} of {v['wall_s']:.1f} s |")
    if "memory" in res:
        v = res["memory"]
        lines.append(f"| rows held in memory ({v['mib']:.0f} MiB, loaded in {v['load_s']:.2f} s) | "
                     f"{v['samples_per_s']:,.0f} | {v['cpu_ms_per_sample']:.3f} | {v['main_cpu_ms_per_sample']:.3f} | "
                     f"{v['main_waited_for_cpu_s']:.1f} of {v['wall_s']:.1f} s |")
    lines.append("")
    if "checksum" in res:
        c = res["checksum"]
        lines.append(f"* images alone: {c['checked_ms']:.3f} ms per sample read through HDF5 with the Fletcher-32 check, "
                     f"{c['raw_ms']:.3f} ms as raw chunks without it")
    one = res.get("hdf5_0_workers")
    if one and one.get("samples_per_s_without_cpu_wait"):
        lines.append(f"* one loading process (0 workers): {one['samples_per_s']:,.0f} samples/s measured, "
                     f"{one['samples_per_s_without_cpu_wait']:,.0f} samples/s without the time it waited for a CPU "
                     "that other jobs held")
    cv = res.get("conversion_ms")
    if cv:
        what = "uint8 -> normalised float32, Eq. 1 maps rendered" if cv.get("renders_maps") else "uint8 -> normalised float32"
        lines.append(f"* conversion to the model's input ({what}) with torch on {cv['device']}: "
                     f"{cv['ms_per_sample']:.3f} ms per sample (on a GPU, device time)")
    rd = res.get("render_ms")
    if rd:
        who = (f"the training's renderer, {rd['channels']} {rd['layout']} channels," if "layout" in rd
               else "torch (a per_au prototype)")
        lines.append(f"* Eq. 1 for a batch with {who} on {cv['device'] if cv else '?'}: {rd['torch_batch']:.3f} ms per "
                     f"sample; numpy per item: {rd['numpy_item']:.3f} ms (max difference {rd['max_abs_diff']:.1e})")
    need = res.get("cores_needed")
    if need:
        lines.append("* CPU a GPU's img/s needs at the first worker setting's cost, x1.5 headroom: "
                     + ", ".join(f"{int(k):,} img/s: {c:.2f} cores" for k, c in need.items()))
    return "\n".join(lines)


def _train(r: dict) -> str:
    lines = [f"`{r['command']}` (CPU time of the process, one thread; {_machine(r)}):", "",
             "| config, deconv, precision, method | eager img/s | compiled img/s | compiled: first steps (CPU s) |",
             "|---|---:|---:|---:|"]
    for key, v in r["results"].items():
        comp, warm = v.get("compiled_images_per_s"), v.get("compiled_warm_up_s")
        lines.append(f"| {key} | {v['images_per_s']:.1f} | {'–' if comp is None else format(comp, '.1f')} | "
                     f"{'–' if warm is None else format(warm, '.1f')} |")
    return "\n".join(lines)


def _demo_train(records: list[dict]) -> str:
    lines = ["| code | dataset | method | CPU s per job | wall s per job | avg ICC | avg MAE |", "|---|---|---|---:|---:|---:|---:|"]
    for r in records:
        code = f"{r['settings'].get('label') or r.get('commit')}"
        for row in r["results"]["summary"]:
            lines.append(f"| {code} | {row['dataset']} | {row['method']} | {row['cpu_s_per_job']:.1f} | "
                         f"{row['wall_s_per_job']:.1f} | {row['icc']:.3f} | {row['mae']:.3f} |")
    for r in records:
        lines.append(f"\n{r['settings'].get('label') or r.get('commit')}: `{r['command']}`; {_machine(r)}")
    return "\n".join(lines)


def _compare(r: dict) -> str:
    lines = [f"`{r['command']}` ({_machine(r)}):", "",
             "| dataset | method | fold | rows | same keys | max abs. difference of the predictions | mean |",
             "|---|---|---|---:|---|---:|---:|"]
    for j in r["results"]["jobs"]:
        lines.append(f"| {j['dataset']} | {j['method']} | {j['fold']} | {j['rows']:,} | {j['same_keys']} | "
                     f"{j['max_abs_pred_diff']:.2e} | {j['mean_abs_pred_diff']:.2e} |")
    return "\n".join(lines)


def _sizing(records: list[dict]) -> str:
    """Per job of each rule, what a cluster profile is sized by, from paper-scale rehearsal records."""
    lines = ["| rehearsal | rule | jobs | CPU s per job | longest job, wall s | peak RSS MB | CPU s per 1,000 frames |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in records:
        where = f"{r['dataset']} {r['fraction']} ({r['sizes']['total_frames']:,} frames, commit {r['machine'].get('commit')})"
        for name in ("landmarks", "crop_cache", "heatmap_cache", "train", "evaluate", "evidence"):
            st = r["stages"].get(name)
            if not st:
                continue
            jobs, cpu = st.get("jobs", 1), st.get("cpu_s")
            longest = st.get("job_s_max", st["wall_s"] if jobs == 1 else None)
            per_k = None if cpu is None or name in ("train", "evaluate", "evidence") else 1000 * cpu / st["frames"]
            cells = [f"{cpu / jobs:,.1f}" if cpu else "–", f"{longest:,.1f}" if longest else "–",
                     f"{st['max_rss_mb']:,.0f}" if st.get("max_rss_mb") else "–", f"{per_k:.2f}" if per_k else "–"]
            lines.append(f"| {where} | `{name}` | {jobs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cores(records: list[dict]) -> str:
    """Cores the data path needs per img/s, from loader records (the first worker setting's CPU per sample)."""
    rates = sorted({int(k) for r in records for k in r["results"]["cores_needed"]})
    lines = ["  | measurement | CPU ms per sample | " + " | ".join(f"cores at {k:,} img/s" for k in rates) + " |",
             "  |---|---:|" + "---:|" * len(rates)]
    for r in records:
        key = next(k for k in r["results"] if k.startswith("hdf5_") and not k.startswith("hdf5_0_"))
        need = r["results"]["cores_needed"]
        maps = "maps rendered on the device" if r["settings"].get("heatmap_source") == "device" else "stored maps"
        what = f"{'cold' if r['settings']['cold'] else 'warm'}, {key.split('_')[1]} worker(s), {maps}, commit {r.get('commit')}"
        lines.append(f"  | {what} | {r['results'][key]['cpu_ms_per_sample']:.3f} | "
                     + " | ".join(f"{need[str(k)] if str(k) in need else need[k]:.2f}" for k in rates) + " |")
    return "\n".join(lines)


def render(names: list[str], style: str = "") -> str:
    """The block for these records (all of one kind); ``style`` picks another view of them (``sizing``)."""
    records = [load(n) for n in names]
    if style == "sizing":
        return _sizing(records)
    if style == "cores":
        return _cores(records)
    if all("stages" in r for r in records):  # paper-scale rehearsals (benchmarks/rehearse_paper_scale.py)
        sys.path.insert(0, str(HERE))
        from rehearse_paper_scale import format_table, scaling_table

        return "\n\n".join([*(format_table(r) for r in records), *([scaling_table(records)] if len(records) > 1 else [])])
    kinds = {r.get("kind") for r in records}
    if kinds == {"bench_loader"}:
        return "\n\n".join(_loader(r) for r in records)
    if kinds == {"bench_train"}:
        return "\n\n".join(_train(r) for r in records)
    if kinds == {"bench_demo_train"}:
        return _demo_train(records)
    if kinds == {"compare_predictions"}:
        return "\n\n".join(_compare(r) for r in records)
    raise ValueError(f"records {names}: no rendering for kinds {kinds}")


def _parse(names: str) -> tuple[list[str], str]:
    """'a.json, b.json | sizing' -> (['a.json', 'b.json'], 'sizing')."""
    files, _, style = names.partition("|")
    return [n.strip() for n in files.split(",")], style.strip()


def blocks(text: str) -> list[tuple[list[str], str, str]]:
    """(record names, style, body) of every block in a doc."""
    return [(*_parse(m["names"]), m["body"]) for m in BLOCK.finditer(text)]


def rewrite(text: str) -> str:
    """The doc with every block rendered again (a block whose records are not all there is left as it is)."""
    def block(m: re.Match) -> str:
        names, style = _parse(m["names"])
        missing = [n for n in names if not (RECORDS / n).is_file()]
        if missing:
            print(f"no record {', '.join(missing)}: block left as it is", file=sys.stderr)
            return m.group(0)
        return f"<!-- record: {m['names']} -->\n{render(names, style)}\n<!-- record: end -->"

    return BLOCK.sub(block, text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("docs", nargs="+", type=Path)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rc = 0
    for doc in args.docs:
        old = doc.read_text()
        new = rewrite(old)
        if args.check and new != old:
            print(f"{doc}: a block differs from its records", file=sys.stderr)
            rc = 1
        elif not args.check and new != old:
            doc.write_text(new)
            print(f"{doc}: blocks rewritten")
    return rc


if __name__ == "__main__":
    sys.exit(main())
