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
    from tensorbridge.runtime.coverage import schema_versions, versions_cell
    from tensorbridge.runtime.registry import KERNELS

    torch_, tf_ = _sinces(TORCH), _sinces(TF)
    schemas = schema_versions()
    ops = sorted(op for d, op in schemas if d == "")
    n_torch = sum(bool(TORCH.served_versions(op, "", schemas[("", op)])) for op in ops)
    n_tf = sum(bool(TF.served_versions(op, "", schemas[("", op)])) for op in ops)
    lines = ["# Emitter operator coverage (IR -> PyTorch, IR -> TensorFlow)", "",
             "Generated from the emitter registries by `tensorbridge coverage emitters`; do not edit.",
             "Each cell lists the schema versions that layer runs (all: every version onnx "
             "defines), by a function of its own or, for an old spelling, by the newer one behind "
             "the rewrite in ir/op_versions.py; the conformance suite "
             "(tests/converters/test_emitter_conformance.py) checks them against onnx's data.", "",
             f"ai.onnx: PyTorch {n_torch} of {len(ops)} operators, TensorFlow {n_tf} of {len(ops)}.", "",
             "| operator | runtime | PyTorch | TensorFlow |", "|---|---|---|---|"]
    for op in ops:
        versions = schemas[("", op)]
        cells = [versions_cell(registry.served_versions(op, "", versions), versions, none="**missing**")
                 for registry in (KERNELS, TORCH, TF)]
        lines.append(f"| {op} | {' | '.join(cells)} |")
    extra = sorted({k for reg in (torch_, tf_) for k in reg if k[0]})
    if extra:
        lines += ["", "Other domains:", "", "| domain::operator | PyTorch | TensorFlow |", "|---|---|---|"]
        for domain, op in extra:
            cells = [", ".join(map(str, sorted(reg[(domain, op)]))) if (domain, op) in reg else "-"
                     for reg in (torch_, tf_)]
            lines.append(f"| {domain}::{op} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"
