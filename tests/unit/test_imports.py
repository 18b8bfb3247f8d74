"""Import hygiene of the ``ehrsynth`` package (docs/design.md §1): no circles, layers point one way, and the
privacy audit and the evaluation import without torch.

The graph is read from the source with :mod:`ast` (nothing is imported): each ``import ehrsynth...`` /
``from ehrsynth... import`` / relative import becomes an edge to the module it names (``from ehrsynth.x import
y`` points at ``ehrsynth.x.y`` when that is a module, else at ``ehrsynth.x``). Imports under
``if TYPE_CHECKING:`` never run and are ignored everywhere.
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "ehrsynth"

# Layers, lowest first; a module may import its own layer or lower ones. Longest prefix wins.
LAYERS: dict[str, int] = {
    "ehrsynth._version": 0,
    "ehrsynth._lazy": 0,
    "ehrsynth.column_sets": 0,
    "ehrsynth.stopwatch": 0,
    "ehrsynth.errors": 0,
    "ehrsynth.fsutil": 0,  # atomic writes, safetensors helpers: every layer may write files
    "ehrsynth.kinds": 0,
    "ehrsynth.naming": 0,
    "ehrsynth.schema_json": 0,
    "ehrsynth.sdv_metadata": 0,  # SDV metadata <-> Schema: schema-level, no SDV import
    "ehrsynth.schema": 0,
    "ehrsynth.inference": 0,
    "ehrsynth.codes": 0,
    "ehrsynth.transforms": 1,
    "ehrsynth.models": 2,
    "ehrsynth.training": 3,
    "ehrsynth.dp": 3,
    "ehrsynth.io": 4,
    "ehrsynth.reporting": 4,  # HTML/SVG/JSON report helpers (writes through fsutil.atomic)
    "ehrsynth.fidelity": 4,  # synthetic columns against their released marginals (post-processing)
    "ehrsynth.params": 5,
    "ehrsynth.estimator": 5,
    "ehrsynth.api": 5,
    "ehrsynth.datasets": 5,
    "ehrsynth.imaging": 5,
    "ehrsynth": 5,  # the package __init__ re-exports the public API
    "ehrsynth.cli": 6,
}
LAYER_NAMES = ["schema", "transforms", "models", "training/dp", "io", "estimators/api", "cli"]
# Side packages: they may import the core (layers 0-5 minus imaging), never each other or the cli;
# nothing below the cli imports them.
SIDE = ("ehrsynth.privacy", "ehrsynth.evaluation")
TORCH_FREE = SIDE  # import no torch/opacus at module level

# Known violations, each to be removed by the work that owns the importing file: (importer, imported) -> why it
# is still there. Empty: keep it so, and fix an upward import instead of listing it.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, in_function
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _imports(child, in_function)
        return
    inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, inner)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def _edges() -> tuple[Edge, ...]:
    modules = _modules()
    edges = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [
                    f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                    for alias in node.names
                ]
            for target in targets:
                if target == "ehrsynth" or target.startswith("ehrsynth."):
                    resolved = _resolve(target, modules)
                    if resolved and resolved != module:
                        edges.append(Edge(module, resolved, node.lineno, in_function))
    return tuple(edges)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_closed_path(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _closed_path(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A path start -> ... -> start inside one component (breadth-first), for a readable message."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return component


def _layer(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, layer)
    return None if best is None else best[1]


def _side(module: str) -> str | None:
    return next((s for s in SIDE if module == s or module.startswith(s + ".")), None)


# the DP verification (audit-dp) sits beside the audit and reuses its statistics and report
SIDE_USERS = ("ehrsynth.cli", "ehrsynth.dp_verify")


def _violation(edge: Edge) -> str | None:
    source_side, target_side = _side(edge.source), _side(edge.target)
    if target_side and source_side != target_side:
        if edge.source.startswith(SIDE_USERS):
            return None
        return f"{target_side} is a side package: only the cli may import it"
    if source_side:
        if target_side == source_side:
            return None
        if edge.target.startswith(("ehrsynth.cli", "ehrsynth.imaging")):
            return f"{source_side} may import the core, not {edge.target}"
        return None
    if edge.target.startswith("ehrsynth.imaging") and not edge.source.startswith(
        ("ehrsynth.imaging", "ehrsynth.cli")
    ):
        return "the core never imports imaging"
    source, target = _layer(edge.source), _layer(edge.target)
    if source is None or target is None:
        return f"module not placed in a layer (add it to LAYERS in {Path(__file__).name})"
    if target > source:
        return f"upward: {LAYER_NAMES[source]} imports {LAYER_NAMES[target]}"
    return None


def test_cycle_finder_reports_a_closed_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in _modules() if _side(m) is None and _layer(m) is None]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def test_no_import_circle_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    for edge in _edges():
        if not edge.in_function:
            graph.setdefault(edge.source, set()).add(edge.target)
    cycles = _cycles(graph)
    assert not cycles, "import circles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_point_down_the_layers() -> None:
    problems = set()
    for edge in _edges():
        why = _violation(edge)
        if why and (edge.source, edge.target) not in ALLOWED_UPWARD:
            where = "in a function" if edge.in_function else "at module level"
            problems.add(f"{edge.source}:{edge.line} imports {edge.target} {where}: {why}")
    assert not problems, "imports against the layers (docs/design.md §1):\n" + "\n".join(sorted(problems))


def test_allow_list_has_no_stale_entries() -> None:
    """An allow-list entry whose import is gone must be deleted, so the list only shrinks."""
    present = {(e.source, e.target) for e in _edges() if _violation(e)}
    stale = sorted(set(ALLOWED_UPWARD) - present)
    assert not stale, f"remove these fixed entries from ALLOWED_UPWARD: {stale}"


def test_side_packages_import_no_torch_at_module_level() -> None:
    problems = []
    for module, path in _modules().items():
        if not module.startswith(TORCH_FREE):
            continue
        for node, in_function in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if in_function:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            heavy = [n for n in names if n.split(".")[0] in ("torch", "opacus")]
            if heavy:
                problems.append(f"{module}:{node.lineno} imports {heavy[0]} at module level")
    assert not problems, "\n".join(problems)


BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "opacus"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    import ehrsynth.privacy
    import ehrsynth.evaluation
    from ehrsynth.privacy import audit
    from ehrsynth.evaluation import evaluate
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "opacus"))
    assert not loaded, loaded
    print("ok")
    """
)


@pytest.mark.parametrize("code", [BLOCK_TORCH], ids=["privacy+evaluation"])
def test_privacy_and_evaluation_import_with_torch_blocked(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
