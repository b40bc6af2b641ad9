"""Coverage of the ONNX operator set by the runtime's kernel registry, as a markdown table
(printed by ``tensorbridge coverage runtime``; docs/runtime-coverage.md is this output and a
test keeps it current)."""

from __future__ import annotations

from collections import defaultdict

import tensorbridge.runtime.kernels  # noqa: F401  (registers every kernel)
from tensorbridge.ir.op_versions import upgrade_for
from tensorbridge.ir.schemas import schema_history
from tensorbridge.runtime.registry import KERNELS

DOMAINS = {"": "ai.onnx", "ai.onnx.ml": "ai.onnx.ml", "ai.onnx.preview.training": "ai.onnx.preview.training",
           "ai.onnx.preview": "ai.onnx.preview"}


def schema_versions() -> dict[tuple[str, str], list[int]]:
    return {k: v for k, v in schema_history().items() if k[0] in DOMAINS}


def versions_cell(runs: list[int], versions: list[int], none: str = "-") -> str:
    """The versions that run, as a table cell: "all" when every schema version does."""
    if not runs:
        return none
    return "all" if runs == versions else ", ".join(map(str, runs))


def _kernels_cell(domain: str, op: str, have: list[int] | None) -> str:
    if have:
        return ", ".join(map(str, sorted(have)))
    up = upgrade_for(op, domain, 0)  # an op ir/op_versions.py renames runs as the other one
    return f"as {up.to_op}-{up.to_opset}" if up is not None and up.to_op != op else "**missing**"


def coverage_markdown() -> str:
    implemented: dict[tuple[str, str], list[int]] = defaultdict(list)
    for domain, op, since in KERNELS.keys():
        implemented[(domain, op)].append(since)
    schemas = schema_versions()
    lines = ["# Runtime operator coverage", "",
             "Generated from the kernel registry by `tensorbridge coverage runtime`; do not edit.",
             "A version runs on a kernel of its own or, for an old spelling, on the newer one behind "
             "the rewrite in ir/op_versions.py (Split-2's attribute made an input).", ""]
    for domain, label in DOMAINS.items():
        ops = sorted(op for d, op in schemas if d == domain)
        done = [op for op in ops if KERNELS.served_versions(op, domain, schemas[(domain, op)])]
        lines += [f"## {label}: {len(done)} of {len(ops)} operators", "",
                  "| operator | schema versions | versions that run | kernels (since) |", "|---|---|---|---|"]
        for op in ops:
            have = implemented.get((domain, op))
            versions = schemas[(domain, op)]
            runs = KERNELS.served_versions(op, domain, versions)
            mark = _kernels_cell(domain, op, have)
            lines.append(f"| {op} | {', '.join(map(str, versions))} | {versions_cell(runs, versions)} | {mark} |")
        lines.append("")
    return "\n".join(lines)
