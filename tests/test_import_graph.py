"""No import cycle between the modules of src/zoomgrade: data flows one way (slide -> stage 1 -> regions ->
stage 2 -> result -> writers), and the import graph must say so too.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy import only
hides a cycle from the interpreter, not from a reader."""

from __future__ import annotations

import ast
from pathlib import Path

import zoomgrade

PACKAGE = Path(zoomgrade.__file__).parent


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. ``from . import x`` imports the module ``x`` when there
    is one (not its package's __init__), as Python resolves it."""
    files = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in files else source for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), as a cycle path through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_path(graph, set(g)) for g in groups]


def _cycle_path(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One concrete cycle inside ``group``, for a readable failure message: a -> b -> ... -> a."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        nxt = min(w for w in graph[path[-1]] if w in group)
        if nxt in seen:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)


def package_graph(graph: dict[str, set[str]], root: str) -> dict[str, set[str]]:
    """The module graph folded to ``root``'s layers: each subpackage (``root.cascade``) and each top-level module
    (``root.types``) is one node. ``root`` itself, the front door that re-exports lazily, is left out."""

    def layer(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for m, deps in graph.items():
        if m == root:
            continue
        out.setdefault(layer(m), set()).update(layer(d) for d in deps if d != root and layer(d) != layer(m))
    return out


def test_the_package_has_no_import_cycle() -> None:
    cycles = find_cycles(import_graph(PACKAGE))
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_subpackages_have_no_import_cycle() -> None:
    """Layers, not only modules: ``models`` may not import ``cascade`` while ``cascade`` imports ``models``,
    even through modules that do not import each other. A piece both need belongs to the lower one."""
    layers = package_graph(import_graph(PACKAGE), PACKAGE.name)
    assert {"zoomgrade.cascade", "zoomgrade.models", "zoomgrade.types"} <= set(layers)
    cycles = find_cycles(layers)
    assert cycles == [], "import cycles between subpackages:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_package_checker_finds_a_cycle_no_module_has(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    for sub in ("low", "high"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .high import run\n")
    (pkg / "types.py").write_text("")
    (pkg / "high" / "run.py").write_text("from ..low import pool\nfrom .. import types\n")
    (pkg / "low" / "pool.py").write_text("")
    (pkg / "low" / "read.py").write_text("def f():\n    from ..high.shape import g\n")
    (pkg / "high" / "shape.py").write_text("")
    graph = import_graph(pkg)
    assert find_cycles(graph) == []  # no module cycle: only the layers go round
    layers = package_graph(graph, "pkg")
    assert layers == {"pkg.high": {"pkg.low", "pkg.types"}, "pkg.low": {"pkg.high"}, "pkg.types": set()}
    assert find_cycles(layers) == [["pkg.high", "pkg.low", "pkg.high"]]
    (pkg / "low" / "read.py").write_text("def f():\n    pass\n")
    assert find_cycles(package_graph(import_graph(pkg), "pkg")) == []


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import thing\n")
    (pkg / "c.py").write_text("from . import a\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub"] == {"pkg.sub.b"} and graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]
    (pkg / "sub" / "b.py").write_text("def f():\n    pass\n")
    assert find_cycles(import_graph(pkg)) == []


def test_records_and_slides_depend_on_nothing_downstream() -> None:
    graph = import_graph(PACKAGE)
    downstream = ("zoomgrade.cascade", "zoomgrade.outputs", "zoomgrade.batch", "zoomgrade.cli", "zoomgrade.bench")
    for name in ("zoomgrade.types", "zoomgrade.labels", "zoomgrade.errors"):
        assert not {m for m in graph[name] if m.startswith(downstream)}, name
