"""Coverage of the ONNX operator set by the runtime's kernel registry, as a markdown table
(printed by ``tensorbridge coverage runtime``; docs/runtime-coverage.md is this output and a
test keeps it current)."""

from __future__ import annotations

from collections import defaultdict

import onnx.defs

import runtime.kernels  # noqa: F401  (registers every kernel)
from runtime.registry import KERNELS

DOMAINS = {"": "ai.onnx", "ai.onnx.ml": "ai.onnx.ml", "ai.onnx.preview.training": "ai.onnx.preview.training",
           "ai.onnx.preview": "ai.onnx.preview"}


def schema_versions() -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for s in onnx.defs.get_all_schemas_with_history():
        if s.domain in DOMAINS and not s.deprecated:
            out[(s.domain, s.name)].append(s.since_version)
    return {k: sorted(v) for k, v in out.items()}


def coverage_markdown() -> str:
    implemented: dict[tuple[str, str], list[int]] = defaultdict(list)
    for domain, op, since in KERNELS.keys():
        implemented[(domain, op)].append(since)
    schemas = schema_versions()
    lines = ["# Runtime operator coverage", "",
             "Generated from the kernel registry by `tensorbridge coverage runtime`; do not edit.", ""]
    for domain, label in DOMAINS.items():
        ops = sorted(op for d, op in schemas if d == domain)
        done = [op for op in ops if (domain, op) in implemented]
        lines += [f"## {label}: {len(done)} of {len(ops)} operators", "",
                  "| operator | schema versions | kernel signatures (since) |", "|---|---|---|"]
        for op in ops:
            have = implemented.get((domain, op))
            mark = ", ".join(map(str, sorted(have))) if have else "**missing**"
            lines.append(f"| {op} | {', '.join(map(str, schemas[(domain, op)]))} | {mark} |")
        lines.append("")
    return "\n".join(lines)
