"""The import rules of docs/architecture.md, read from src/ with ast (nothing is imported).

- Only the local backend (``articleqa.index.local``) talks to Chroma, SQLite and its BM25
  index; everything else goes through the storage contracts (index/contracts.py).
- Answering and retrieval don't know which backend they run on.
- No import cycles (every import counts: at module level, inside functions and under
  ``TYPE_CHECKING``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LOCAL = "articleqa.index.local"
BACKEND_ONLY = ("chromadb", "sqlite3", f"{LOCAL}.keywords")
# What may break the rule, and why.
EXCEPTIONS = {
    # The llama-index baseline is the system articleqa is compared against: it builds its own
    # Chroma collection (llama-index's ChromaVectorStore), never articleqa's store.
    ("articleqa.evaluation.baseline", "chromadb"),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "articleqa").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of everything ``name`` imports (a ``from X import y`` naming a module
    ``X.y`` counts as importing ``X.y``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = {f"{mod}.{a.name}" for a in node.names} & MODULES.keys()
            out |= subs or {mod}
            if len(subs) < len(node.names):
                out.add(mod)
    return out


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(mod: str, package: str) -> bool:
    return mod == package or mod.startswith(package + ".")


def test_only_the_local_backend_touches_chroma_sqlite_and_its_bm25():
    wrong = sorted(
        f"{name} imports {imp}"
        for name, imps in IMPORTS.items()
        if not _within(name, LOCAL)
        for imp in imps
        for banned in BACKEND_ONLY
        if _within(imp, banned) and (name, banned) not in EXCEPTIONS
    )
    assert wrong == []


def test_answering_and_retrieval_use_only_the_contracts():
    wrong = sorted(
        f"{name} imports {imp}"
        for name, imps in IMPORTS.items()
        if _within(name, "articleqa.answer") or name == "articleqa.retrieve"
        for imp in imps
        if _within(imp, LOCAL)
    )
    assert wrong == []


def test_the_scan_sees_the_imports():
    """The rules above would pass vacuously if the scan missed imports."""
    assert "chromadb" in IMPORTS[f"{LOCAL}.vectors"]
    assert "sqlite3" in IMPORTS[f"{LOCAL}.registry"]
    assert f"{LOCAL}.keywords" in IMPORTS[f"{LOCAL}.store"]
    assert "articleqa.index.contracts" in IMPORTS["articleqa.retrieve"]
    assert "articleqa.index.dedup" in IMPORTS[f"{LOCAL}.store"]  # from .. import dedup


def _cycles(skip: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    graph = {
        name: sorted(
            i
            for i in imps
            if i in MODULES and i != name and not any(name == a and _within(i, b) for a, b in skip)
        )
        for name, imps in IMPORTS.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
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
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycles():
    assert _cycles() == []
