"""Builders and checks shared by the transpose-pass tests: every optimised graph is
verified, run on the runtime before and after, and must keep its interface and declared
shapes."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir import DType, Graph, Node, TensorType, Value, verify
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.transpose import optimize_transposes
from tensorbridge.runtime.session import Session

NCHW = (0, 3, 1, 2)  # NHWC -> NCHW
NHWC = (0, 2, 3, 1)  # NCHW -> NHWC
SHAPE = (2, 5, 6, 3)  # an NHWC activation: N, H, W, C


# ----------------------------------------------------------------------------- helpers
def _t(g: Graph, x: Value, perm: tuple[int, ...]) -> Value:
    return g.add_op("Transpose", [x], {"perm": list(perm)})[0]


def _op(g: Graph, op: str, *ins: Value, **attrs: object) -> Value:
    return g.add_op(op, list(ins), attrs)[0]


def _const(g: Graph, name: str, data: np.ndarray, **kw: object) -> Value:
    return g.add_constant(name, np.asarray(data, np.float32), **kw)  # type: ignore[arg-type]


def _nhwc_conv(g: Graph, x: Value, cin: int, cout: int, seed: int) -> Value:
    """What the TF front-end emits for an NHWC Conv2D: Transpose -> Conv -> Transpose."""
    w = _const(g, f"conv{seed}_w", np.random.default_rng(seed).normal(size=(cout, cin, 3, 3)) * 0.3)
    y = g.add_op("Conv", [_t(g, x, NCHW), w], {"pads": [1, 1, 1, 1]}, name=f"conv{seed}")[0]
    return _t(g, y, NHWC)


def _inputs(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for v in g.inputs:
        shape = tuple(int(d) for d in v.shape or ())  # type: ignore[arg-type]
        if v.dtype is DType.BOOL:
            out.append(rng.random(shape) > 0.5)
        else:
            out.append(rng.uniform(0.5, 2.0, shape).astype(v.dtype.np_dtype))  # type: ignore[union-attr]
    return out


def _annotate(g: Graph, feeds: list[np.ndarray]) -> None:
    """Declare every intermediate's type, as a front-end would, so the pass must keep them right."""
    s = Session(g, fold_constants=False, fuse=False)
    s.run(feeds, capture=True)
    for v in g.values():
        if v.type is None and v.name in s.captured and isinstance(s.captured[v.name], np.ndarray):
            a = s.captured[v.name]
            v.type = TensorType(DType.from_numpy(a.dtype), tuple(a.shape))


def _declared_shapes_hold(g: Graph, feeds: list[np.ndarray]) -> None:
    s = Session(g, fold_constants=False, fuse=False)
    s.run(feeds, capture=True)
    for v in g.values():
        a = s.captured.get(v.name)
        if isinstance(a, np.ndarray) and isinstance(v.type, TensorType) and v.type.shape is not None:
            assert tuple(a.shape) == v.type.shape, f"{v.name}: declared {v.type}, runs as {a.shape}"


def _interface(g: Graph) -> list[tuple[str, object]]:
    return [(v.name, v.type) for v in (*g.inputs, *g.outputs)]


def optimize_checked(g: Graph, seed: int = 0) -> PassReport:
    """Run the pass; check verify, numerics, interface, declared shapes and idempotence."""
    verify(g)
    feeds = _inputs(g, seed)
    _annotate(g, feeds)
    before, interface = Session(g).run(feeds), _interface(g)
    report = optimize_transposes(g)
    verify(g)
    after = Session(g).run(feeds)
    for a, b in zip(after, before):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert _interface(g) == interface
    _declared_shapes_hold(g, feeds)
    again = optimize_transposes(g)
    assert again.changed == 0, again.details
    return report


def count(g: Graph, op: str = "Transpose") -> int:
    return sum(n.op_type == op for n in g.nodes())


def transposes_at_the_edges(g: Graph) -> bool:
    """Each remaining Transpose reads a graph input or feeds a graph output."""
    for n in g.nodes():
        if n.op_type == "Transpose":
            (x,), (y,) = g.node_inputs(n), g.node_outputs(n)
            if x not in g.inputs and y not in g.outputs:
                return False
    return True


def single(g: Graph, op: str) -> Node:
    (node,) = [n for n in g.nodes() if n.op_type == op]
    return node


def _residual(g: Graph) -> None:
    """Two ResNet blocks: out = x + conv(relu(conv(x))); the skip is un-transposed."""
    x = g.add_input("image", DType.FLOAT, (2, 5, 6, 4))
    h = x
    for i in range(2):
        y = _nhwc_conv(g, _op(g, "Relu", _nhwc_conv(g, h, 4, 4, 10 + i)), 4, 4, 20 + i)
        h = _op(g, "Relu", _op(g, "Add", h, y))
    g.set_outputs([h])
