"""The package's import graph (every `import g2rl...`, at module level or inside a function): the reports import
no circle, and training imports nothing from the reports (a writer and its readers share low modules instead)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "g2rl"


def import_graph() -> dict[str, set[str]]:
    """module -> the g2rl modules it imports (``from g2rl.a import b`` counts g2rl.a.b when that is a module)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_reports_have_no_import_circle():
    bad = [c for c in cycles(import_graph()) if any(m.startswith("g2rl.reports") for m in c)]
    assert not bad, f"import circles in g2rl.reports: {bad}"


def test_training_imports_nothing_from_reports():
    graph = import_graph()
    up = {m: sorted(t for t in ts if t.startswith("g2rl.reports")) for m, ts in graph.items() if m.startswith("g2rl.training")}
    assert not any(up.values()), {m: t for m, t in up.items() if t}


def test_package_has_no_import_circle():
    """No two modules anywhere in g2rl import each other (the crops cache and provenance once did: the
    HDF5 readers now live in g2rl.preprocess.h5read, below both)."""
    assert not cycles(import_graph()), f"import circles: {cycles(import_graph())}"
