"""Read access to the ONNX operator schemas (``onnx.defs``), the IR's op vocabulary, and
tensorbridge's own schema table for the domains its passes introduce.

Our own ops are never registered with onnx.defs: its registry is process-wide (the first
registration would fix one opset for every later graph) and onnx.reference refuses to
import once an op name exists in two domains. They live in :data:`OWN_DOMAINS` instead,
which :func:`get_schema` (and so ``verify`` and the passes) consults first."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import SupportsInt, cast

import onnx.defs

from tensorbridge.ir.node import AttrKind

STANDARD_DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview")

# Channels-last twins (ir/passes/channels_last.py): op -> the ai.onnx op whose schema it
# follows (same inputs, outputs and attributes; the data and outputs are channels-last).
# A twin has no versions of its own: a graph imports this domain at the version of its
# ai.onnx import, and a twin at version v is checked against the standard op's schema in
# force at ai.onnx opset v, so an old model's nodes keep their own opset's attributes.
NHWC_DOMAIN = "tensorbridge.nhwc"
NHWC_TWINS: Mapping[str, str] = MappingProxyType({
    "Conv": "Conv", "ConvTranspose": "ConvTranspose", "MaxPool": "MaxPool",
    "AveragePool": "AveragePool", "GlobalAveragePool": "GlobalAveragePool",
    "GlobalMaxPool": "GlobalMaxPool", "DepthToSpace": "DepthToSpace",
    "SpaceToDepth": "SpaceToDepth", "BatchNormalization": "BatchNormalization",
    # a depthwise 2-D Conv whose weight is in TF's (kh, kw, C, multiplier) layout
    "DepthwiseConv": "Conv",
})
# our domain -> (op -> the standard ai.onnx op whose versioned schema it follows)
OWN_DOMAINS: Mapping[str, Mapping[str, str]] = MappingProxyType({NHWC_DOMAIN: NHWC_TWINS})


def norm_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


@lru_cache(maxsize=4096)
def get_schema(op_type: str, domain: str, opset: int) -> onnx.defs.OpSchema | None:
    """The schema of ``op_type`` in force at ``opset`` of ``domain``, or None. For one of
    our own domains (:data:`OWN_DOMAINS`) that is the schema of the standard op it follows,
    at ai.onnx opset ``opset``."""
    domain = norm_domain(domain)
    own = OWN_DOMAINS.get(domain)
    if own is not None:
        base = own.get(op_type)
        return None if base is None else get_schema(base, "", opset)
    if (domain, op_type) in _REGISTERED:
        return _registered_schema(op_type, domain, opset)
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None


def is_own_domain(domain: str) -> bool:
    """A domain whose schemas come from tensorbridge's own table, not from onnx.defs."""
    return norm_domain(domain) in OWN_DOMAINS


@lru_cache(maxsize=64)
def ops_in_domain(domain: str) -> tuple[str, ...]:
    d = norm_domain(domain)
    if d in OWN_DOMAINS:
        return tuple(sorted(OWN_DOMAINS[d]))
    return tuple(sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == d}))


def close_ops(op_type: str, domain: str) -> list[str]:
    return difflib.get_close_matches(op_type, ops_in_domain(domain), n=3)


def latest_opset(domain: str = "") -> int:
    d = norm_domain(domain)
    return int(onnx.defs.onnx_opset_version()) if d == "" or d in OWN_DOMAINS else _domain_max(d)


@lru_cache(maxsize=16)
def _domain_max(domain: str) -> int:
    vs = [s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.domain == domain]
    vs += [s.since_version for (d, _), versions in _REGISTERED.items() if d == domain for s in versions]
    return max(vs) if vs else 1


def attr_kinds(schema: onnx.defs.OpSchema) -> dict[str, AttrKind]:
    """Attribute name -> kind declared by the schema."""
    if (norm_domain(schema.domain), schema.name) in _REGISTERED:  # not in onnx.defs: read it directly
        return {n: AttrKind(int(cast(SupportsInt, a.type))) for n, a in schema.attributes.items()}
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


# Schemas registered by users for their custom-op domains (tensorbridge.register_schema):
# (domain, op) -> its schemas, oldest first. Kept here, never in onnx.defs' process-wide registry.
_REGISTERED: dict[tuple[str, str], list[onnx.defs.OpSchema]] = {}


def register_schema(schema: onnx.defs.OpSchema, *, replace: bool = False) -> None:
    """Add ``schema`` (a custom domain's op) to tensorbridge's own table, so that ``verify``
    and the passes accept the op. Registering a (domain, op, since_version) again raises
    unless ``replace``; the standard domains cannot be extended."""
    domain = norm_domain(schema.domain)
    if domain in STANDARD_DOMAINS or domain in OWN_DOMAINS:
        raise ValueError(f"register_schema: {schema.name} is in domain {domain or 'ai.onnx'!r}, which "
                         "tensorbridge does not let you extend; use a domain of your own (e.g. 'com.example')")
    versions = _REGISTERED.setdefault((domain, schema.name), [])
    same = [s for s in versions if s.since_version == schema.since_version]
    if same and not replace:
        raise ValueError(f"register_schema: {domain}::{schema.name} since_version {schema.since_version} is "
                         "already registered; pass replace=True to replace it")
    versions[:] = sorted([s for s in versions if s not in same] + [schema], key=lambda s: s.since_version)
    get_schema.cache_clear()
    _domain_max.cache_clear()


def _registered_schema(op_type: str, domain: str, opset: int) -> onnx.defs.OpSchema | None:
    usable = [s for s in _REGISTERED[(domain, op_type)] if s.since_version <= opset]
    return usable[-1] if usable else None
