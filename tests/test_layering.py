"""The dependency rule of ARCHITECTURE.md, checked on the source: ir/ imports only numpy,
networkx, ml_dtypes and onnx.defs; runtime/ never imports torch or tensorflow, nor builds
protobuf messages (backend.py, the onnx.backend adapter, is the one documented exception).
Optional libraries a single kernel needs (Pillow for ImageDecoder) may only be imported
lazily, inside that kernel."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB_OK = set(sys.stdlib_module_names)


LAZY_OPTIONAL = {"PIL"}
FRAMEWORKS = {"torch", "tensorflow", "keras"}


LAYERS = ("ir", "runtime", "converters")


def _layer_name(module: str) -> str:
    """``tensorbridge.ir.graph`` -> ``ir.graph``: the layers live in the repository's top-level
    folders and are imported under the one installed name."""
    head, _, rest = module.partition(".")
    if head == "tensorbridge" and rest.split(".")[0] in LAYERS:
        return rest
    return module


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    out = set()
    tree = ast.parse(path.read_text())
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            out |= {_layer_name(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(_layer_name(node.module))
    return out


def _check(folder: str, allowed: set[str], exempt: frozenset[str] = frozenset()) -> list[str]:
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if path.name in exempt:
            continue
        top_level = _imports(path, top_level_only=True)
        for mod in _imports(path):
            top = mod.split(".")[0]
            if top in STDLIB_OK or top in allowed or mod in allowed:
                continue
            if top in LAZY_OPTIONAL and mod not in top_level:
                continue
            bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    return bad


def test_ir_imports_only_numpy_networkx_and_onnx_defs():
    assert _check("ir", {"ir", "numpy", "networkx", "ml_dtypes", "onnx.defs"}) == []


def test_runtime_never_imports_frameworks_or_protobuf():
    assert _check("runtime", {"ir", "runtime", "numpy", "ml_dtypes"}, frozenset({"backend.py"})) == []


def test_no_framework_imports_outside_their_converters():
    for folder in ("ir", "runtime", "tensorbridge", "converters/onnx"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            hits = {m for m in _imports(path) if m.split(".")[0] in FRAMEWORKS}
            assert not hits, f"{path.relative_to(ROOT)} imports {hits}"
