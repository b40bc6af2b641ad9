"""Every op a registry or op table names exists in onnx.defs (or in the schema table of our
own domains that ir/schemas.py keeps): a misspelled key would otherwise sit unused, never
looked up. Registry keys are (domain, op, since): ``since`` must be a version at which the
op's schema changed, so a kernel is never registered for a version that does not exist."""

from __future__ import annotations

import importlib

import pytest

from tensorbridge.ir import schemas

REGISTRIES = {
    "runtime kernels": ("tensorbridge.runtime.kernels", "tensorbridge.runtime.registry", "KERNELS"),
    "PyTorch emitter": ("tensorbridge.converters.pytorch.from_ir.module",
                        "tensorbridge.converters.pytorch.from_ir.registry", "EMITTERS"),
    "TensorFlow emitter": ("tensorbridge.converters.tensorflow.from_ir.module",
                           "tensorbridge.converters.tensorflow.from_ir.registry", "EMITTERS"),
}
FRAMEWORK = {"PyTorch emitter": "torch", "TensorFlow emitter": "tensorflow"}

# Tables of ai.onnx op names that passes and the runtime consult (module, attribute).
OP_TABLES = [
    ("tensorbridge.ir.passes.transpose_rules", "RULES"),
    ("tensorbridge.ir.passes.patterns", "SAME_RANK"),
    ("tensorbridge.ir.passes.patterns", "BROADCAST_RANK"),
    ("tensorbridge.ir.passes.fuse_patterns", "MIN_OPSET"),
    ("tensorbridge.ir.passes.cse", "_NONDETERMINISTIC"),
    ("tensorbridge.ir.passes.fold_constants", "_NEVER"),
    ("tensorbridge.ir.passes.fold_constants", "_LAYOUT"),
    ("tensorbridge.runtime.session", "_RANDOM"),
    ("tensorbridge.runtime.session", "_BROADCASTERS"),
]


def _key_problem(domain: str, op: str, since: int) -> str | None:
    schema = schemas.get_schema(op, domain, since)
    if schema is None:
        close = schemas.close_ops(op, domain)
        return f"{domain or 'ai.onnx'}::{op} is no op of that domain (close: {close})"
    if schema.since_version != since:
        return (f"{domain or 'ai.onnx'}::{op} since={since}: the schema in force there dates from "
                f"version {schema.since_version}; register it at a version where the op changed")
    return None


def _registry(layer: str):
    populate, module, name = REGISTRIES[layer]
    if layer in FRAMEWORK:
        pytest.importorskip(FRAMEWORK[layer])
    importlib.import_module(populate)  # importing the op modules registers them
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("layer", sorted(REGISTRIES))
def test_registry_keys_are_onnx_schemas(layer):
    registry = _registry(layer)
    keys = registry.keys()
    assert len(keys) > 100, f"{layer}: only {len(keys)} keys: did the op modules register?"
    problems = [p for key in keys if (p := _key_problem(*key)) is not None]
    assert not problems, f"{layer}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("module", "name"), OP_TABLES)
def test_op_tables_name_onnx_ops(module, name):
    ops = set(getattr(importlib.import_module(module), name))
    unknown = sorted(op for op in ops if op not in schemas.ops_in_domain(""))
    assert not unknown, f"{module}.{name} names ops ai.onnx does not have: {unknown}"


@pytest.mark.parametrize(("key", "fragment"), [
    (("", "Gemmm", 1), "no op of that domain"),
    (("ai.onnx.ml", "Conv", 1), "no op of that domain"),
    (("", "Conv", 12), "dates from version 11"),
])
def test_a_wrong_key_is_reported(key, fragment):
    problem = _key_problem(*key)
    assert problem is not None and fragment in problem
