"""The op trees share one family map (docs/op-families.md): every ONNX op is registered in
the same-named file by the runtime, the PyTorch emitter and the TensorFlow emitter, the
page's table names that one file per family, and no op-family file is named with a number."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "op-families.md"
OP_TREES = ("runtime/kernels", "converters/pytorch/from_ir/ops",
            "converters/tensorflow/from_ir/ops", "converters/pytorch/ops",
            "converters/tensorflow/ops")

def _families(registry: Any) -> dict[tuple[str, str], set[str]]:
    """(domain, op) -> the module file names its registered versions live in."""
    out: dict[tuple[str, str], set[str]] = {}
    for domain, op, since in registry.keys():
        module = registry.lookup(op, domain, since).fn.__module__
        out.setdefault((domain, op), set()).add(module.rsplit(".", 1)[1])
    return out


@pytest.fixture(scope="module")
def trees() -> dict[str, dict[tuple[str, str], set[str]]]:
    import tensorbridge.runtime.kernels  # noqa: F401  (registers the kernels)
    from tensorbridge.converters.pytorch.from_ir.module import EMITTERS as TORCH
    from tensorbridge.converters.tensorflow.from_ir.module import EMITTERS as TF
    from tensorbridge.runtime.registry import KERNELS

    return {"runtime": _families(KERNELS), "PyTorch emitter": _families(TORCH),
            "TensorFlow emitter": _families(TF)}


def test_emitters_put_every_op_in_the_same_family_file(trees):
    torch_, tf_ = trees["PyTorch emitter"], trees["TensorFlow emitter"]
    wrong = {key: (torch_[key], tf_[key]) for key in torch_.keys() & tf_.keys()
             if torch_[key] != tf_[key] or len(torch_[key]) > 1}
    assert not wrong, f"(domain, op): (PyTorch file, TensorFlow file) differ: {wrong}"


def test_runtime_puts_every_op_in_the_emitters_family_file(trees):
    runtime = trees["runtime"]
    wrong = {key: (runtime[key], files) for layer in ("PyTorch emitter", "TensorFlow emitter")
             for key, files in trees[layer].items() if key in runtime and runtime[key] != files}
    assert not wrong, ("(domain, op): (runtime file, emitter file) differ; move the kernel to "
                       f"its family file (docs/op-families.md): {wrong}")


def _table(first_header: str) -> list[list[str]]:
    """The body rows of the docs table whose header row starts with ``first_header``."""
    rows: list[list[str]] = []
    inside = False
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if not line.startswith("|"):
            inside = False
        elif cells and cells[0] == first_header:
            inside = True
        elif inside and not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return rows


def _table_rows() -> list[list[str]]:
    return _table("family")


def test_every_ir_maths_module_is_in_the_docs_table():
    listed = {name.strip("` ") for row in _table("module") for name in row[0].split(",")}
    modules = {f"ir/{p.name}" for p in (ROOT / "ir").glob("*_math.py")}
    assert modules <= listed, f"ir/ maths modules missing from docs/op-families.md: {sorted(modules - listed)}"


def test_every_family_is_in_the_docs_table(trees):
    families = {row[0] for row in _table_rows()}
    used = {name for layer in trees.values() for files in layer.values()
            for name in files} - {"channels_last"}
    assert used <= families, f"families missing from docs/op-families.md: {sorted(used - families)}"


def test_docs_table_names_one_file_per_family_in_every_op_tree():
    # columns: family, ops, runtime kernel, PyTorch emitter, TF emitter, front-ends...
    wrong = {row[0]: row[2:5] for row in _table_rows()
             if any(cell not in (f"`{row[0]}.py`", "-") for cell in row[2:5])}
    assert not wrong, f"docs/op-families.md: these rows name another file than <family>.py: {wrong}"
    files = {tree: {p.stem for p in (ROOT / tree).glob("*.py")} for tree in OP_TREES[:3]}
    missing = {(row[0], tree) for row in _table_rows()
               for tree, cell in zip(OP_TREES[:3], row[2:5], strict=True)
               if cell != "-" and row[0] not in files[tree]}
    assert not missing, f"docs/op-families.md names files that do not exist: {sorted(missing)}"


def test_no_op_file_is_named_with_a_number():
    numbered = [str(p.relative_to(ROOT)) for tree in OP_TREES for p in (ROOT / tree).glob("*.py")
                if re.search(r"\d", p.stem)]
    assert not numbered, f"name these by the family they hold (docs/op-families.md): {numbered}"
