"""Read access to the ONNX operator schemas (``onnx.defs``), the IR's op vocabulary."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import SupportsInt, cast

import onnx.defs

from tensorbridge.ir.node import AttrKind

STANDARD_DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview")


def norm_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


@lru_cache(maxsize=4096)
def get_schema(op_type: str, domain: str, opset: int) -> onnx.defs.OpSchema | None:
    """The schema of ``op_type`` in force at ``opset`` of ``domain``, or None."""
    try:
        return onnx.defs.get_schema(op_type, opset, norm_domain(domain))
    except onnx.defs.SchemaError:
        return None


@lru_cache(maxsize=64)
def ops_in_domain(domain: str) -> tuple[str, ...]:
    d = norm_domain(domain)
    return tuple(sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == d}))


def close_ops(op_type: str, domain: str) -> list[str]:
    return difflib.get_close_matches(op_type, ops_in_domain(domain), n=3)


def latest_opset(domain: str = "") -> int:
    return int(onnx.defs.onnx_opset_version()) if norm_domain(domain) == "" else _domain_max(domain)


@lru_cache(maxsize=16)
def _domain_max(domain: str) -> int:
    vs = [s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.domain == domain]
    return max(vs) if vs else 1


def attr_kinds(schema: onnx.defs.OpSchema) -> dict[str, AttrKind]:
    """Attribute name -> kind declared by the schema."""
    return _attr_kinds_cached(schema.name, schema.domain, schema.since_version)


@lru_cache(maxsize=4096)
def _attr_kinds_cached(name: str, domain: str, since: int) -> dict[str, AttrKind]:
    schema = onnx.defs.get_schema(name, since, domain)
    return {n: AttrKind(int(cast(SupportsInt, a.type))) for n, a in schema.attributes.items()}


def schema_history() -> dict[tuple[str, str], list[int]]:
    """(domain, op) -> every since-version onnx.defs knows, for non-deprecated ops."""
    out: dict[tuple[str, str], list[int]] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        if not s.deprecated:
            out.setdefault((s.domain, s.name), []).append(int(s.since_version))
    return {k: sorted(v) for k, v in out.items()}
