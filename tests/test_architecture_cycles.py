"""The package's modules import each other one way: no import cycle, counting imports made
inside functions (deferred imports are still dependencies) and leaving out those under
``if TYPE_CHECKING:`` (annotations only)."""

from __future__ import annotations

import ast
from pathlib import Path

import articleqa

SRC = Path(articleqa.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["articleqa", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _target(name: str) -> str | None:
    """The package module ``name`` is, or the nearest package module above it."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for mod, path in MODULES.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")
                    up = up[: len(up) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                # `from .x import y`: y may be a submodule of x, else a name in x
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            deps |= {t for n in names if n.startswith("articleqa") and (t := _target(n)) and t != mod}
        graph[mod] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (its modules, the first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(m: str) -> list[str]:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return [*path[path.index(d) :], d]
            if d not in state and (cycle := dfs(d)):
                return cycle
        path.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state and (cycle := dfs(m)):
            return cycle
    return []


def test_the_graph_sees_deferred_imports_and_skips_type_checking_ones():
    graph = import_graph()
    assert "articleqa.ingest.pipeline" in graph["articleqa.assistant"]
    # answer/__init__ imports its answerers inside functions, Store only for annotations
    assert "articleqa.answer.extractive" in graph["articleqa.answer"]
    assert "articleqa.index.store" not in graph["articleqa.answer"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_config_knows_every_answerer_by_name():
    """Config checks ``answerer`` against its own list (config imports nothing of answer/);
    the registry answer/ builds from must name the same answerers, in the same order."""
    from articleqa.answer import ANSWERERS
    from articleqa.config import ANSWERER_NAMES

    assert tuple(ANSWERERS) == ANSWERER_NAMES
    assert "articleqa.answer" not in import_graph()["articleqa.config"]
