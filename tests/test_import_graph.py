"""The package's import graph (every `import g2rl...`, at module level or inside a function, and a module named
by a string, as the CLI's and the packages' lazy imports name them): the layers below are kept (a module
imports only from its own layer or lower ones), the reports import no circle, and training imports nothing
from the reports (a writer and its readers share low modules instead)."""

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
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # importlib.import_module("g2rl...") and lazy_getattr's maps; a package's map of its own
                # modules is its own business (they import the package back, lazily, without a circle)
                targets = [node.value] if node.value.split(".")[:2] != name.split(".")[:2] else []
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


# The floors of the house, lowest first: a module may import from its own floor and the floors below, never
# from one above (a lazy import inside a function counts too: it is an arrow all the same). Each entry is a
# module or a package (all its modules). What the low modules need from a higher one is passed in by the
# caller or moved down a floor (g2rl.formats holds the names writer and reader share).
LAYERS = [
    ("base", ["g2rl", "g2rl.errors", "g2rl.formats", "g2rl.atomic", "g2rl.jsonfile", "g2rl.lazy", "g2rl.cli_lists",
              "g2rl.csvread", "g2rl.paths", "g2rl.media", "g2rl.torchfile", "g2rl.init_policy", "g2rl.metrics",
              "g2rl.evidence", "g2rl.provenance", "g2rl.config", "g2rl.config_ranges", "g2rl.cli_help",
              "g2rl.sigma_range", "g2rl.results_root", "g2rl.cpus",
              "g2rl.workflow_cmd"]),
    ("datasets", ["g2rl.datasets"]),
    ("preprocess", ["g2rl.preprocess"]),
    ("model and demo data", ["g2rl.model", "g2rl.demo"]),
    ("training", ["g2rl.training"]),
    ("reports", ["g2rl.reports"]),
    ("predict", ["g2rl.predict"]),
    ("commands", ["g2rl.cli", "g2rl.__main__", "g2rl.provenance_cli"]),
]


def layer_of(module: str) -> int:
    """The floor of a module: its own entry, else its package's (the longest entry it lies under)."""
    best = None
    for i, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            if module == entry or (module.startswith(entry + ".") and entry != "g2rl"):
                if best is None or len(entry) > best[1]:
                    best = (i, len(entry))
    assert best is not None, f"{module} has no layer: add it to LAYERS in tests/test_import_graph.py"
    return best[0]


def test_every_import_goes_down_the_layers():
    graph = import_graph()
    up = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) -> {t} ({LAYERS[layer_of(t)][0]})"
                for m, targets in graph.items() for t in targets if layer_of(t) > layer_of(m))
    assert not up, "imports that run up the layers:\n" + "\n".join(up)


def test_the_layer_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The control: an upward import hidden in a function body (how provenance once reached training) is found."""
    fake = tmp_path / "g2rl"
    (fake / "training").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "training" / "__init__.py").write_text("")
    (fake / "training" / "gpu_slots.py").write_text("")
    (fake / "provenance.py").write_text("def device_info():\n    from g2rl.training.gpu_slots import visible_cards\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    graph = import_graph()
    assert graph["g2rl.provenance"] == {"g2rl.training.gpu_slots"}
    assert layer_of("g2rl.training.gpu_slots") > layer_of("g2rl.provenance")
