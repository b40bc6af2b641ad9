"""Coverage of the ONNX operator set by the PyTorch and TensorFlow emitters, next to the
runtime's, as a markdown table (``tensorbridge coverage emitters``; docs/emitter-coverage.md
is this output and a test keeps it current)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def _sinces(registry: Any) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for domain, op, since in registry.keys():
        out[(domain, op)].append(since)
    return out


def coverage_markdown() -> str:
    from tensorbridge.converters.pytorch.from_ir.module import EMITTERS as TORCH
    from tensorbridge.converters.tensorflow.from_ir.module import EMITTERS as TF
    from tensorbridge.runtime.coverage import schema_versions
    from tensorbridge.runtime.registry import KERNELS

    torch_, tf_, rt = _sinces(TORCH), _sinces(TF), _sinces(KERNELS)
    ops = sorted(op for d, op in schema_versions() if d == "")
    n_torch = sum(("", op) in torch_ for op in ops)
    n_tf = sum(("", op) in tf_ for op in ops)
    lines = ["# Emitter operator coverage (IR -> PyTorch, IR -> TensorFlow)", "",
             "Generated from the emitter registries by `tensorbridge coverage emitters`; do not edit.",
             "Numbers are the since-versions each emitter implements; the conformance suite "
             "(tests/converters/test_emitter_conformance.py) checks them against onnx's data.", "",
             f"ai.onnx: PyTorch {n_torch} of {len(ops)} operators, TensorFlow {n_tf} of {len(ops)}.", "",
             "| operator | runtime | PyTorch | TensorFlow |", "|---|---|---|---|"]
    for op in ops:
        cells = [", ".join(map(str, sorted(reg[("", op)]))) if ("", op) in reg else "**missing**"
                 for reg in (rt, torch_, tf_)]
        lines.append(f"| {op} | {' | '.join(cells)} |")
    extra = sorted({k for reg in (torch_, tf_) for k in reg if k[0]})
    if extra:
        lines += ["", "Other domains:", "", "| domain::operator | PyTorch | TensorFlow |", "|---|---|---|"]
        for domain, op in extra:
            cells = [", ".join(map(str, sorted(reg[(domain, op)]))) if (domain, op) in reg else "-"
                     for reg in (torch_, tf_)]
            lines.append(f"| {domain}::{op} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"
