"""The import graph of tensorbridge's own modules, read from the source with ``ast``: every
``import`` / ``from ... import`` at any depth (function-level imports included, since a lazy
import is still a dependency), relative imports resolved, ``from pkg import name`` resolved to
the submodule ``pkg.name`` when one exists. Modules are named as they are imported
(``tensorbridge.ir.graph``); the layers live in the repository's top-level folders.

Run as a script to print the strongly connected components (the import circles) and every
``from x import _private`` across modules::

    .venv/bin/python -m tests.import_graph
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
# folder in the repository -> the package name it is imported under
PACKAGES = {"tensorbridge": "tensorbridge", "ir": "tensorbridge.ir",
            "runtime": "tensorbridge.runtime", "converters": "tensorbridge.converters"}


@dataclass(frozen=True)
class Import:
    """One imported module (``names``: what a ``from`` import takes from it)."""

    module: str
    names: tuple[str, ...] = ()


def module_name(path: Path) -> str:
    """``ROOT/ir/passes/dce.py`` -> ``tensorbridge.ir.passes.dce``."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGES[parts[0]], *parts[1:]])


@lru_cache(maxsize=1)
def source_files() -> dict[str, Path]:
    """Every tensorbridge module -> its file (the symlinked folders once, by their real path)."""
    out = {}
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if _through_symlink(path):
                continue
            out[module_name(path)] = path
    return out


def _through_symlink(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return any((ROOT / part).is_symlink() for part in [rel, *rel.parents] if part != Path("."))


def _resolve_relative(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks (never executed)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports_of(module: str, *, with_type_checking: bool = True) -> list[Import]:
    """What ``module`` imports, in source order (duplicates kept); ``with_type_checking=False`` leaves
    out the imports under ``if TYPE_CHECKING:`` (only type checkers read them)."""
    path = source_files()[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = set() if with_type_checking else _type_checking_only(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [Import(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = (node.module or "") if node.level == 0 else _resolve_relative(module, is_package, node)
            out.append(Import(target, tuple(alias.name for alias in node.names)))
    return out


def _targets(imp: Import, known: dict[str, Path]) -> set[str]:
    """The tensorbridge modules an import loads (submodules named in a ``from`` import count)."""
    hits = {f"{imp.module}.{name}" for name in imp.names if f"{imp.module}.{name}" in known}
    if imp.module in known and (not imp.names or len(hits) < len(imp.names)):
        hits.add(imp.module)
    return hits


@lru_cache(maxsize=1)
def import_graph() -> nx.DiGraph:
    """Module -> module edges between tensorbridge's own modules, as executed: imports at any
    depth (a function-level import runs when the function does), not ``TYPE_CHECKING`` ones."""
    known = source_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for module in known:
        for imp in imports_of(module, with_type_checking=False):
            graph.add_edges_from((module, t) for t in _targets(imp, known) if t != module)
    return graph


def import_circles() -> list[list[str]]:
    """The strongly connected components with more than one module, each sorted."""
    sccs = (sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1)
    return sorted(sccs)


def private_imports() -> list[str]:
    """``from x import _name`` where x is another tensorbridge module and _name not a module."""
    known = source_files()
    out = []
    for module in known:
        for imp in imports_of(module):
            if imp.module not in known or imp.module == module:
                continue
            for name in imp.names:
                if name.startswith("_") and not name.startswith("__") and f"{imp.module}.{name}" not in known:
                    out.append(f"{module} imports {name} from {imp.module}")
    return sorted(out)


def main() -> None:
    circles = import_circles()
    print(f"{import_graph().number_of_nodes()} modules, {import_graph().number_of_edges()} imports, "
          f"{len(circles)} import circles")
    for comp in circles:
        print("  circle: " + " <-> ".join(comp))
    private = private_imports()
    print(f"{len(private)} private names imported across modules")
    for line in private:
        print("  " + line)


if __name__ == "__main__":
    main()
