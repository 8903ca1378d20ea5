"""The package's shape holds: small modules, no import cycle in the cascade, records flowing one way
(the slide layer imports nothing of the pipeline)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "zoomgrade"
MAX_LINES = 300


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Modules of the package ``path`` imports (absolute names), at any depth of the file."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("zoomgrade"):
                out.add(target)
                out.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("zoomgrade"))
    return out


def modules(folder: Path) -> dict[str, Path]:
    return {_module(p): p for p in folder.rglob("*.py")}


def test_no_module_is_over_300_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_cascade_has_no_import_cycle() -> None:
    mods = modules(SRC / "cascade")
    graph = {m: {i for i in imports_of(p) if i in mods and i != m} for m, p in mods.items()}
    # the front door re-exports the modules: edges into it do not count
    graph = {m: deps - {"zoomgrade.cascade"} for m, deps in graph.items()}
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        if m in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(m) :] + (m,)))
        if m in done:
            return
        for d in graph[m]:
            visit(d, (*path, m))
        done.add(m)

    for m in graph:
        visit(m, ())
    assert "zoomgrade.cascade.outcome" in graph and "zoomgrade.cascade.reading.batches" in graph


@pytest.mark.parametrize("layer", ["slide", "labels", "errors", "userfile", "atomic"])
def test_the_lower_layers_import_nothing_of_the_pipeline(layer: str) -> None:
    paths = [SRC / f"{layer}.py"] if (SRC / f"{layer}.py").exists() else list((SRC / layer).rglob("*.py"))
    # userfile: reading the TOML files users write, and their errors as one line (labels and config share it)
    allowed = ("zoomgrade.errors", "zoomgrade.userfile", f"zoomgrade.{layer}")
    for p in paths:
        bad = {i for i in imports_of(p) if not i.startswith(allowed)}
        assert bad == set(), f"{p.relative_to(SRC)} imports {sorted(bad)}"
