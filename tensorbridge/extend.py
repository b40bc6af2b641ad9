"""The public way to teach tensorbridge a new op without editing the package: decorators
that add to the same registries the built-in ops use (see docs/extending.md).

    import tensorbridge as tb

    tb.register_schema(onnx.defs.OpSchema("Foo", "com.example", 1, ...))   # verify accepts it

    @tb.register_torch_translation("mylib::foo.default")    # PyTorch -> IR
    def foo(ctx, x, alpha): return ctx.op("Foo", [x], {"alpha": alpha}, domain="com.example")

    @tb.register_kernel("Foo", domain="com.example")         # the built-in numpy runtime
    def foo_kernel(x, *, alpha=1.0): return x * alpha

    @tb.register_torch_emitter("Foo", domain="com.example")  # IR -> PyTorch
    def foo_emit(x, *, alpha=1.0): return torch.ops.mylib.foo(x, alpha)

Each decorator registers the function it decorates and returns it unchanged. A key that is
already registered (built-in or yours) raises ``ValueError`` unless ``replace=True``. The
built-in ops of a registry are loaded first, so a replacement wins regardless of import
order. Registrations are process-wide: register once, at import time of your plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Fn = Callable[..., Any]

__all__ = ["register_kernel", "register_schema", "register_tf_emitter", "register_tf_translation",
           "register_torch_emitter", "register_torch_translation"]


def register_schema(schema: Any, *, replace: bool = False) -> None:
    """Declare a custom op (an ``onnx.defs.OpSchema`` in a domain of your own, e.g.
    ``"com.example"``) so that ``verify`` checks its nodes like a standard op's. The schema
    is kept in tensorbridge's own table, not in onnx's process-wide registry."""
    import onnx.defs

    from tensorbridge.ir import schemas

    if not isinstance(schema, onnx.defs.OpSchema):
        raise TypeError(f"register_schema takes an onnx.defs.OpSchema, not {type(schema).__name__}")
    schemas.register_schema(schema, replace=replace)


def register_kernel(op_type: str, domain: str = "", *, since: int = 1, replace: bool = False) -> Callable[[Fn], Fn]:
    """A numpy kernel for ``op_type`` (from opset ``since`` of ``domain``), run by
    ``tb.run`` and by validation. Signature as the built-in kernels': inputs positional,
    attributes keyword-only with their defaults; a keyword-only ``ctx`` receives the
    ``runtime.registry.KernelContext``. Returns an array, or a tuple for several outputs."""
    import tensorbridge.runtime.kernels  # noqa: F401  (the built-in kernels first)
    from tensorbridge.runtime.registry import KERNELS

    return KERNELS.register(op_type, since=since, domain=domain, replace=replace)


def register_torch_translation(*names: str, replace: bool = False) -> Callable[[Fn], Fn]:
    """A PyTorch -> IR translation for the ATen (or custom ``torch.library``) overloads
    ``names`` (``"aten::foo.default"``, ``"mylib::foo.default"``; without the overload it
    covers them all). It receives what built-in translations receive: the builder ``ctx``
    (``ctx.op``, ``ctx.const``, ``ctx.cast``; see docs/pytorch.md) followed by the node's
    arguments (IR values for tensors, Python values for the rest), and returns the IR
    value(s) of the op's outputs."""
    if not names:
        raise TypeError("register_torch_translation needs at least one op name, e.g. 'mylib::foo.default'")
    import tensorbridge.converters.pytorch.ops  # noqa: F401  (the built-in translations first)
    from tensorbridge.converters.pytorch.registry import ATEN

    return ATEN.register(*names, replace=replace)


def register_tf_translation(*op_types: str, replace: bool = False) -> Callable[[Fn], Fn]:
    """A TensorFlow -> IR translation for the TF op types ``op_types`` (``"MyOp"``), called
    like the built-in ``@tf_op`` ones (see docs/tensorflow.md)."""
    if not op_types:
        raise TypeError("register_tf_translation needs at least one TF op type")
    import tensorbridge.converters.tensorflow.ops  # noqa: F401  (the built-in translations first)
    from tensorbridge.converters.tensorflow.registry import TF_OPS

    return TF_OPS.register(*op_types, replace=replace)


def register_torch_emitter(op_type: str, domain: str = "", *, since: int = 1,
                           replace: bool = False) -> Callable[[Fn], Fn]:
    """An IR -> PyTorch emitter for ``op_type``: the kernel's signature, torch tensors in
    and out (see docs/migration.md). It must be traceable by torch.export and torch.fx."""
    import tensorbridge.converters.pytorch.from_ir.ops  # noqa: F401  (the built-in emitters first)
    from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS

    return EMITTERS.register(op_type, since=since, domain=domain, replace=replace)


def register_tf_emitter(op_type: str, domain: str = "", *, since: int = 1,
                        replace: bool = False) -> Callable[[Fn], Fn]:
    """An IR -> TensorFlow emitter for ``op_type``: the kernel's signature, TF tensors in
    and out, traced inside a ``tf.function``."""
    import tensorbridge.converters.tensorflow.from_ir.ops  # noqa: F401  (the built-in emitters first)
    from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS

    return EMITTERS.register(op_type, since=since, domain=domain, replace=replace)
