"""The dependency rule of ARCHITECTURE.md, checked on the source for every pair of packages.

Each package's modules (named ``tensorbridge.ir.x`` etc., see :func:`_layer_name`) may
import only the packages and libraries listed for it in :data:`RULES`; imports at any
depth count (a function-level import is still a dependency), and so do ``TYPE_CHECKING``
ones. The framework converters never import each other, no converter imports the runtime,
nothing below ``tensorbridge/`` imports ``tensorbridge/``, and the module import graph has
no circle (tests/import_graph.py, runnable as a script, prints it)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from tests.import_graph import (
    Import,
    import_circles,
    import_graph,
    imports_of,
    private_imports,
    source_files,
)

STDLIB = set(sys.stdlib_module_names) | {"__future__"}
FRAMEWORKS = {"torch", "tensorflow", "keras"}
LAYERS = ("ir", "runtime", "converters")
SHARED = "converters.shared"  # converters/builder.py, emitting.py, files.py, __init__.py


@dataclass(frozen=True)
class Rule:
    packages: frozenset[str]  # our packages it may import (its own included)
    libraries: frozenset[str]  # third-party modules (a name allows its submodules)
    lazy_only: frozenset[str] = frozenset()  # libraries allowed only inside functions


def _rule(packages: set[str], libraries: set[str], lazy_only: Iterable[str] = ()) -> Rule:
    return Rule(frozenset(packages), frozenset(libraries), frozenset(lazy_only))


RULES = {
    "ir": _rule({"ir"}, {"numpy", "networkx", "ml_dtypes", "onnx.defs"}),
    # Optional libraries a single kernel needs (Pillow for ImageDecoder; numba compiles
    # kernels/_compiled.py's loops): inside functions, imported on first use.
    "runtime": _rule({"ir", "runtime"}, {"numpy", "ml_dtypes", "PIL", "numba"}, {"PIL", "numba"}),
    SHARED: _rule({"ir", SHARED}, {"numpy", "ml_dtypes"}),
    "converters.onnx": _rule({"ir", SHARED, "converters.onnx"},
                             {"numpy", "ml_dtypes", "onnx", "google.protobuf"}),
    "converters.pytorch": _rule({"ir", SHARED, "converters.pytorch"},
                                {"numpy", "ml_dtypes", "torch", "safetensors"}),
    "converters.tensorflow": _rule({"ir", SHARED, "converters.tensorflow"},
                                   {"numpy", "ml_dtypes", "tensorflow", "keras", "h5py"}),
    # The public face wires everything; `import tensorbridge` must import no framework.
    "tensorbridge": _rule({"ir", "runtime", SHARED, "converters.onnx", "converters.pytorch",
                           "converters.tensorflow", "tensorbridge"}, {"*"}, FRAMEWORKS),
}

# Upward imports that are the design, each with its reason (module -> modules it may import).
# None today: the onnx.backend adapter, which runs ONNX models on the runtime, lives in
# tensorbridge/ (the hub imports every layer).
UPWARD: dict[str, set[str]] = {}


def _layer_name(module: str) -> str:
    """``tensorbridge.ir.graph`` -> ``ir.graph``: the layers live in the repository's top-level
    folders and are imported under the one installed name."""
    head, _, rest = module.partition(".")
    if head == "tensorbridge" and rest.split(".")[0] in LAYERS:
        return rest
    return module


def package_of(module: str) -> str:
    """The package a tensorbridge module belongs to (a key of RULES)."""
    parts = _layer_name(module).split(".")
    if parts[0] == "converters":
        framework = f"converters.{parts[1]}" if len(parts) > 1 else SHARED
        return framework if framework in RULES else SHARED
    return parts[0] if parts[0] in LAYERS else "tensorbridge"


def _top_level_imports(module: str) -> set[str]:
    """Modules imported at module level (not inside a function or class body)."""
    tree = ast.parse(source_files()[module].read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def _library_allowed(rule: Rule, module: str) -> bool:
    return "*" in rule.libraries or any(module == lib or module.startswith(lib + ".")
                                        for lib in rule.libraries)


def _targets(imp: Import) -> list[str]:
    known = source_files()
    hits = [f"{imp.module}.{n}" for n in imp.names if f"{imp.module}.{n}" in known]
    return hits or [imp.module]


def violations(module: str) -> list[str]:
    """Every import of ``module`` its package's rule does not allow."""
    return _violations(module, imports_of(module), _top_level_imports(module))


def _violations(module: str, imports: Iterable[Import], top_level: set[str]) -> list[str]:
    rule = RULES[package_of(module)]
    bad = []
    for imp in imports:
        root = imp.module.split(".")[0]
        if root in STDLIB or not imp.module:
            continue
        if root == "tensorbridge":
            for target in _targets(imp):
                if package_of(target) not in rule.packages and target not in UPWARD.get(module, ()):
                    bad.append(f"{_layer_name(module)} imports {_layer_name(target)} "
                               f"({package_of(module)} -> {package_of(target)})")
        elif not _library_allowed(rule, imp.module):
            bad.append(f"{_layer_name(module)} imports {imp.module}")
        elif root in rule.lazy_only and imp.module in top_level:
            bad.append(f"{_layer_name(module)} imports {imp.module} at module level (import it "
                       "inside the function that needs it)")
    return bad


def _modules_of(package: str) -> list[str]:
    return [m for m in source_files() if package_of(m) == package]


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_its_layer_allows(package):
    modules = _modules_of(package)
    assert modules, f"no module belongs to {package}: is tests/import_graph.py reading the tree?"
    bad = [v for m in modules for v in violations(m)]
    assert not bad, "\n".join(bad)


def test_every_pair_of_packages_is_checked():
    """Each import edge between our packages is allowed by RULES or listed in UPWARD; the
    allowed pairs are exactly these (a new package or edge needs a decision here)."""
    pairs = {(package_of(a), package_of(b)) for a, b in import_graph().edges}
    allowed = {(p, q) for p, rule in RULES.items() for q in rule.packages}
    upward = {(package_of(a), package_of(b)) for a, targets in UPWARD.items() for b in targets}
    assert pairs - allowed - upward == set()
    frameworks = ("converters.onnx", "converters.pytorch", "converters.tensorflow")
    for p in (*frameworks, SHARED):
        assert "runtime" not in RULES[p].packages and "tensorbridge" not in RULES[p].packages
        assert not any(q in RULES[p].packages for q in frameworks if q != p)


def test_upward_exceptions_are_still_needed():
    graph = import_graph()
    for module, targets in UPWARD.items():
        assert module in graph, f"UPWARD names {module}, which no longer exists"
        assert targets <= set(graph.successors(module)), f"{module} no longer imports {targets}"


def test_no_import_circles():
    circles = import_circles()
    assert not circles, "import circles (cut them: move the shared piece down, or pass it " \
        "in):\n" + "\n".join(" <-> ".join(map(_layer_name, c)) for c in circles)


def test_no_private_names_imported_across_modules():
    found = private_imports()
    assert not found, "make these public API of their module (or move them):\n" + "\n".join(found)


@pytest.mark.parametrize(("module", "imported", "top_level"), [
    ("tensorbridge.ir.fake", Import("tensorbridge.runtime.session", ("Session",)), False),
    ("tensorbridge.ir.fake", Import("onnx.helper"), False),
    ("tensorbridge.runtime.fake", Import("torch"), False),
    ("tensorbridge.runtime.fake", Import("PIL", ("Image",)), True),
    ("tensorbridge.converters.pytorch.fake", Import("tensorbridge.converters.tensorflow.context"), False),
    ("tensorbridge.converters.pytorch.fake", Import("tensorbridge.runtime.parity.divergence"), False),
    ("tensorbridge.converters.onnx.fake", Import("tensorbridge.runtime.session"), False),
    ("tensorbridge.converters.builder", Import("tensorbridge.converters.onnx", ("to_ir",)), False),
    ("tensorbridge.converters.tensorflow.fake", Import("tensorbridge.check"), False),
    ("tensorbridge.fake", Import("torch"), True),
])
def test_a_forbidden_import_is_reported(module, imported, top_level):
    top = {imported.module} if top_level else set()
    assert len(_violations(module, [imported], top)) == 1


@pytest.mark.parametrize(("module", "imported"), [
    ("tensorbridge.ir.fake", Import("onnx.defs")),
    ("tensorbridge.runtime.fake", Import("tensorbridge.ir.graph", ("Graph",))),
    ("tensorbridge.converters.pytorch.fake", Import("tensorbridge.converters", ("builder",))),
    ("tensorbridge.fake", Import("tensorbridge.runtime.session")),
])
def test_an_allowed_import_is_not_reported(module, imported):
    assert _violations(module, [imported], set()) == []
