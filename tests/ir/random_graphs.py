"""Seeded random IR graphs for the pass-validation harness (test_pass_validation.py).

Each graph is built move by move from a pool of live tensors; every new op is evaluated at
once with the runtime's kernels (``evaluate_node``) on the concrete feeds, so the builder
knows every value's shape and the graph is runnable by construction. The moves stress what
the passes rewrite: Transpose chains and NHWC <-> NCHW sandwiches, Reshape / Unsqueeze /
Squeeze / Flatten, broadcasting elementwise ops with constants of every rank, Gather and
Slice on constant tables (the relative-position-bias motif), Pad -> Conv -> bias Add ->
BatchNormalization chains, MatMul + Add, Softmax, shape arithmetic feeding Reshape, the
formulas fuse_patterns recognises, no-ops, duplicate subexpressions and dead branches.

Dims are small and repeat on purpose (1-4): a rewrite that reasons from shapes alone (two
dims of equal size taken for the same dim) is then caught by the numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir import DType, Graph, Role, TensorType, Value, verify
from tensorbridge.runtime.evaluate import evaluate_node

DIMS = (1, 2, 2, 3, 3, 4)
BATCH = 5  # a graph with a symbolic batch declares every dim of this size as "batch"
OPSETS = (13, 17, 20, 20, 20, 23)


@dataclass
class RandomCase:
    name: str
    graph: Graph
    feeds: dict[str, np.ndarray]


def random_case(seed: int) -> RandomCase:
    """The random graph number ``seed`` (same seed, same graph) with feeds for its inputs."""
    b = _Builder(seed)
    b.build()
    return RandomCase(f"random_{seed}", b.g, b.feeds)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.opset = int(self.rng.choice(OPSETS))
        self.g = Graph(f"random_{seed}", opset_imports={"": self.opset})
        self.arrays: dict[Value, Any] = {}  # every value's data on the feeds
        self.pool: list[Value] = []  # float tensors moves may build on
        self.feeds: dict[str, np.ndarray] = {}
        self.symbolic = self.rng.random() < 0.2  # inputs declare a "batch" dim
        self.untyped = self.rng.random() < 0.25  # some intermediates have no declared type
        self.n_consts = 0

    # ------------------------------------------------------------------ plumbing
    def build(self) -> None:
        for _ in range(int(self.rng.integers(1, 3))):
            self.new_input()
        moves = list(MOVES)
        weights = np.array([w for _, w in moves], float)
        for _ in range(int(self.rng.integers(3, 13))):
            move = moves[int(self.rng.choice(len(moves), p=weights / weights.sum()))][0]
            move(self)
        self.pick_outputs()
        verify(self.g)

    def choice(self, seq: Any) -> Any:
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def shape(self, v: Value) -> tuple[int, ...]:
        return tuple(np.shape(self.arrays[v]))

    def pick(self, rank: int | None = None, min_rank: int = 0, max_rank: int = 6) -> Value | None:
        cands = [v for v in self.pool
                 if (rank is None or len(self.shape(v)) == rank) and min_rank <= len(self.shape(v)) <= max_rank]
        return self.choice(cands) if cands else None

    def declare(self, v: Value, a: np.ndarray) -> None:
        dims = tuple("batch" if self.symbolic and d == BATCH else int(d) for d in a.shape)
        v.type = TensorType(DType.from_numpy(a.dtype), dims)

    def new_input(self, shape: tuple[int, ...] | None = None, dtype: Any = np.float32) -> Value:
        if shape is None:
            shape = tuple(self.choice(DIMS) for _ in range(int(self.rng.integers(2, 5))))
            if self.symbolic:
                shape = (BATCH, *shape[1:])
        data = self.rng.standard_normal(shape).astype(dtype)
        dims = tuple("batch" if self.symbolic and i == 0 and d == BATCH else d for i, d in enumerate(shape))
        v = self.g.add_input(f"x{len(self.feeds)}", DType.from_numpy(np.dtype(dtype)), dims)
        self.feeds[v.name] = data
        self.arrays[v] = data
        self.pool.append(v)
        return v

    def const(self, data: Any, *, role: Role | None = None, dtype: Any = None) -> Value:
        """An initializer; float ones are sometimes named weights (PARAMETER / BUFFER)."""
        a = np.asarray(data, dtype=dtype)
        self.n_consts += 1
        if role is None:
            role = Role.CONSTANT
            if a.dtype.kind == "f" and a.size > 1 and self.chance(0.3):
                role = Role.PARAMETER
        name = f"w{self.n_consts}" if role is not Role.CONSTANT else f"c{self.n_consts}"
        v = self.g.add_constant(name, a, role=role, source_name=name if role is not Role.CONSTANT else "")
        self.arrays[v] = a
        return v

    def ints(self, values: Any) -> Value:
        if self.chance(0.15):  # a Constant op instead of an initializer
            (v,) = self.g.add_op("Constant", [], {"value": np.asarray(values, np.int64)})
            self.arrays[v] = np.asarray(values, np.int64)
            return v
        return self.const(np.asarray(values, np.int64))

    def op(self, op_type: str, ins: list[Value | None], attrs: dict[str, Any] | None = None,
           n_outputs: int = 1, pool: bool = True) -> list[Value]:
        """Add an op, evaluate it on the feeds' data, declare its outputs' types."""
        outs = self.g.add_op(op_type, ins, attrs or {}, n_outputs=n_outputs)
        node = self.g.producer(outs[0])
        assert node is not None
        try:
            res = evaluate_node(self.g, node, [None if v is None else self.arrays[v] for v in ins])
        except Exception as e:
            raise AssertionError(f"random graph builder made an invalid {op_type}: {e}") from e
        assert res is not None, f"{op_type}: the runtime cannot evaluate {attrs}"
        for v, a in zip(outs, res):
            a = np.asarray(a)
            self.arrays[v] = a
            if not (self.untyped and self.chance(0.3)):
                self.declare(v, a)
            if pool and a.dtype == np.float32 and 0 < a.size <= 4096:  # empty ones: a dead end
                self.pool.append(v)
        return outs

    def op1(self, op_type: str, ins: list[Value | None], attrs: dict[str, Any] | None = None,
            pool: bool = True) -> Value:
        return self.op(op_type, ins, attrs, pool=pool)[0]

    def axes_op(self, op_type: str, x: Value, axes: list[int], since: int, **attrs: Any) -> Value:
        """Reduce* / Squeeze / Unsqueeze with ``axes`` as input (from ``since``) or attribute."""
        if self.opset >= since:
            return self.op1(op_type, [x, self.ints(axes)], attrs)
        return self.op1(op_type, [x], {**attrs, "axes": axes})

    def scalar(self, value: float) -> Value:
        return self.const(np.array(value, np.float32))

    def random_const(self, shape: tuple[int, ...], away_from_zero: bool = False, **kw: Any) -> Value:
        data = self.rng.standard_normal(shape).astype(np.float32)
        if away_from_zero:
            data = (np.sign(data) + (data == 0)) * self.rng.uniform(0.5, 2.0, shape).astype(np.float32)
        return self.const(data, **kw)

    def pick_outputs(self) -> None:
        produced = [v for v in self.arrays if self.g.producer(v) is not None and v not in self.g.inputs]
        if not produced:
            produced = [self.op1("Relu", [self.pool[0]])]
        outs = [produced[-1]]
        for v in produced[:-1]:
            if self.chance(0.2) and len(outs) < 3:
                outs.append(v)
        self.g.set_outputs(list(dict.fromkeys(outs)))


# --------------------------------------------------------------------- moves
def _perm(b: _Builder, rank: int) -> list[int]:
    return [int(i) for i in b.rng.permutation(rank)]


def transpose(b: _Builder) -> None:
    x = b.pick(min_rank=2)
    if x is None:
        return
    rank = len(b.shape(x))
    p = _perm(b, rank)
    y = b.op1("Transpose", [x], {"perm": p})
    if b.chance(0.4):  # a chain: the inverse (cancels), or another one (merges)
        inv = [p.index(i) for i in range(rank)]
        y = b.op1("Transpose", [y], {"perm": inv if b.chance(0.5) else _perm(b, rank)})


def layout_sandwich(b: _Builder) -> None:
    """NHWC -> NCHW -> op -> NHWC, as the TF front-end spells every NHWC op."""
    x = b.pick(rank=4)
    if x is None:
        x = b.new_input((b.choice((1, 2)), b.choice((3, 4)), b.choice((3, 4)), b.choice((2, 3))))
    n, h, w, c = b.shape(x)
    t = b.op1("Transpose", [x], {"perm": [0, 3, 1, 2]})
    kind = b.choice(("relu", "conv", "pool", "bn", "bias", "gap", "softmax"))
    if kind == "conv":
        o = b.choice((1, 2, 3))
        k = b.choice((1, 3)) if min(h, w) >= 3 else 1
        y = b.op1("Conv", [t, b.random_const((o, c, k, k), role=Role.PARAMETER)],
                  {"pads": [k // 2] * 4, "kernel_shape": [k, k]})
    elif kind == "pool" and min(h, w) >= 2:
        y = b.op1("MaxPool", [t], {"kernel_shape": [2, 2], "strides": [b.choice((1, 2))] * 2})
    elif kind == "bn":
        y = _batchnorm(b, t, c)
    elif kind == "bias":
        y = b.op1("Add", [t, b.random_const((c, 1, 1))])
    elif kind == "gap":
        y = b.op1("GlobalAveragePool", [t])
    elif kind == "softmax":
        y = b.op1("Softmax", [t], {"axis": 1})
    else:
        y = b.op1("Relu", [t])
    b.op1("Transpose", [y], {"perm": [0, 2, 3, 1]})


def _batchnorm(b: _Builder, x: Value, c: int) -> Value:
    scale = b.random_const((c,), role=Role.PARAMETER)
    bias = b.random_const((c,), role=Role.PARAMETER)
    mean = b.random_const((c,), role=Role.BUFFER)
    var = b.const(b.rng.uniform(0.5, 2.0, c).astype(np.float32), role=Role.BUFFER)
    return b.op1("BatchNormalization", [x, scale, bias, mean, var], {"epsilon": float(b.choice((1e-5, 1e-3)))})


def _broadcast_shape(b: _Builder, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape broadcasting against ``shape``: a suffix of it with some dims 1 (sometimes
    with an extra leading dim: the result's rank grows)."""
    k = int(b.rng.integers(0, len(shape) + 1))
    out = tuple(1 if b.chance(0.4) else d for d in shape[len(shape) - k:])
    if b.chance(0.1) and len(shape) < 5:
        out = (b.choice((1, 2)), *shape)
    return out


def binary_const(b: _Builder) -> None:
    x = b.pick()
    if x is None:
        return
    op = b.choice(("Add", "Sub", "Mul", "Div", "Max", "Min", "Add", "Mul"))
    c = b.random_const(_broadcast_shape(b, b.shape(x)), away_from_zero=op == "Div")
    ins = [x, c] if op == "Div" or b.chance(0.5) else [c, x]
    b.op1(op, ins)


def binary_pair(b: _Builder) -> None:
    x = b.pick()
    if x is None:
        return
    others = [v for v in b.pool if v is not x and _broadcasts(b.shape(x), b.shape(v))]
    y = b.choice(others) if others else x  # x op x when nothing fits
    b.op1(b.choice(("Add", "Sub", "Mul", "Max")), [x, y])


def _broadcasts(s: tuple[int, ...], t: tuple[int, ...]) -> bool:
    try:
        return len(np.broadcast_shapes(s, t)) <= 5 and int(np.prod(np.broadcast_shapes(s, t))) <= 4096
    except ValueError:
        return False


def unary(b: _Builder) -> None:
    x = b.pick()
    if x is None:
        return
    op = b.choice(("Relu", "Neg", "Tanh", "Sigmoid", "Abs", "LeakyRelu", "Exp", "Sqrt", "Erf"))
    if op == "Exp":
        x = b.op1("Tanh", [x])
    if op == "Sqrt":
        x = b.op1("Abs", [x])
    b.op1(op, [x], {"alpha": 0.1} if op == "LeakyRelu" else {})


def _factor(b: _Builder, size: int) -> list[int]:
    """A random shape with ``size`` elements (rank 1-4)."""
    dims: list[int] = []
    rest = size
    for _ in range(int(b.rng.integers(0, 3))):
        divs = [d for d in range(2, rest + 1) if rest % d == 0]
        if not divs:
            break
        d = b.choice(divs)
        dims.append(d)
        rest //= d
    dims.append(rest)
    b.rng.shuffle(dims)
    return [int(d) for d in dims]


def reshape(b: _Builder) -> None:
    x = b.pick()
    if x is None:
        return
    shape = list(b.shape(x))
    kind = b.choice(("factor", "ones", "same", "flatten", "shape_ops"))
    if kind == "ones":  # only inserts 1s (remove_no_ops turns it into an Unsqueeze)
        target = list(shape)
        for _ in range(int(b.rng.integers(1, 3))):
            target.insert(int(b.rng.integers(0, len(target) + 1)), 1)
    elif kind == "same":
        target = shape
    elif kind == "flatten" and shape:
        b.op1("Flatten", [x], {"axis": int(b.rng.integers(0, len(shape) + 1))})
        return
    elif kind == "shape_ops" and len(shape) >= 2:
        _reshape_from_shape(b, x)
        return
    else:
        target = _factor(b, int(np.prod(shape, dtype=np.int64)))
        if target and b.chance(0.3):
            target[int(b.rng.integers(len(target)))] = -1
    b.op1("Reshape", [x, b.ints(target)])


def _reshape_from_shape(b: _Builder, x: Value) -> None:
    """Reshape(x, Concat(Gather(Shape(x), [0]), [-1])): constants feeding shape ops."""
    (s,) = b.op("Shape", [x], pool=False)
    (head,) = b.op("Gather", [s, b.ints([0])], {"axis": 0}, pool=False)
    (target,) = b.op("Concat", [head, b.ints([-1])], {"axis": 0}, pool=False)
    y = b.op1("Reshape", [x, target])
    if b.chance(0.5):  # the shape as data too (an int output: compared exactly)
        (n,) = b.op("Size", [y], pool=False)
        b.op("Mul", [n, b.const(np.array(2, np.int64))], pool=False)


def unsqueeze_squeeze(b: _Builder) -> None:
    x = b.pick(max_rank=4)
    if x is None:
        return
    shape = b.shape(x)
    ones = [i for i, d in enumerate(shape) if d == 1]
    if ones and b.chance(0.5):
        axes = [a - len(shape) if b.chance(0.3) else a for a in ones if b.chance(0.7)] or [ones[0]]
        b.axes_op("Squeeze", x, axes, 13)
        return
    rank = len(shape) + int(b.rng.integers(1, 3))
    axes = sorted(int(a) for a in b.rng.choice(rank, rank - len(shape), replace=False))
    if b.chance(0.3):
        axes = [a - rank for a in axes]
    y = b.axes_op("Unsqueeze", x, axes, 13)
    if b.chance(0.4):  # and a Transpose after it (moves the inserted 1s, or not)
        b.op1("Transpose", [y], {"perm": _perm(b, rank)})


def gather_table(b: _Builder) -> None:
    """Gather on a constant table (named or anonymous) with constant indices (some negative)."""
    rows, width = int(b.rng.integers(2, 10)), b.choice((1, 2, 3, 4))
    table = b.random_const((rows, width))
    idx_shape = tuple(b.choice((1, 2, 3, 4)) for _ in range(int(b.rng.integers(0, 3))))
    idx = b.rng.integers(-rows, rows, idx_shape)
    y = b.op1("Gather", [table, b.ints(idx)], {"axis": 0})
    if b.chance(0.5) and len(b.shape(y)) >= 2:
        y = b.op1("Transpose", [y], {"perm": _perm(b, len(b.shape(y)))})
    x = b.pick()
    if x is not None and _broadcasts(b.shape(x), b.shape(y)):
        b.op1("Add", [x, y])


def gather_data(b: _Builder) -> None:
    x = b.pick(min_rank=1)
    if x is None:
        return
    shape = b.shape(x)
    axis = int(b.rng.integers(-len(shape), len(shape)))
    n = shape[axis]
    idx = int(b.rng.integers(-n, n)) if b.chance(0.4) else b.rng.integers(-n, n, (b.choice((1, 2, 3)),))
    b.op1("Gather", [x, b.ints(idx)], {"axis": axis})


def relpos_bias(b: _Builder) -> None:
    """timm Swin/BEiT relative-position bias: table[(2W-1)^2, heads][index].view(N, N, heads)
    .permute(2, 0, 1).unsqueeze(0) added to the attention scores (B, heads, N, N)."""
    w, heads, d = b.choice((1, 2, 2)), b.choice((1, 2, 3, 4)), b.choice((2, 3))
    n = w * w
    table = b.random_const(((2 * w - 1) ** 2, heads), role=b.choice((Role.PARAMETER, Role.CONSTANT)))
    coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (w - 1)
    index = b.const((rel[..., 0] * (2 * w - 1) + rel[..., 1]).reshape(-1).astype(np.int64),
                    role=b.choice((Role.BUFFER, Role.CONSTANT)))
    bias = b.op1("Gather", [table, index], {"axis": 0})
    bias = b.op1("Reshape", [bias, b.ints([n, n, heads])])
    bias = b.op1("Transpose", [bias], {"perm": [2, 0, 1]})
    bias = b.axes_op("Unsqueeze", bias, [0], 13)
    q = b.new_input((b.choice((1, 2)), heads, n, d))
    k = b.new_input(b.shape(q))
    scores = b.op1("MatMul", [q, b.op1("Transpose", [k], {"perm": [0, 1, 3, 2]})])
    b.op1("Softmax", [b.op1("Add", [scores, bias])], {"axis": -1})


def slice_op(b: _Builder) -> None:
    x = b.pick(min_rank=1) if b.chance(0.7) else b.random_const((b.choice((3, 4, 5)), b.choice((2, 3))))
    if x is None:
        return
    shape = b.shape(x)
    axes = sorted(int(a) for a in b.rng.choice(len(shape), int(b.rng.integers(1, len(shape) + 1)), replace=False))
    starts, ends, steps = [], [], []
    for a in axes:
        n = shape[a]
        step = b.choice((1, 1, 2, -1))
        lo, hi = sorted(int(v) for v in b.rng.integers(0, n + 1, 2))
        if step > 0:
            starts.append(lo if b.chance(0.7) else lo - n)
            ends.append(hi if hi > lo else n)
        else:
            starts.append(n - 1 if b.chance(0.5) else -1)
            ends.append(-n - 1 if b.chance(0.5) else 0)
        steps.append(step)
    if b.chance(0.3):
        axes = [a - len(shape) for a in axes]
    b.op1("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])


def conv_chain(b: _Builder) -> None:
    """[NHWC Pad ->] Transpose -> [Pad] -> Conv -> bias Add -> BatchNormalization -> Relu,
    the stems of Keras (ZeroPadding2D) and PyTorch CNNs."""
    nhwc = b.chance(0.5)
    n, c, h, w = b.choice((1, 2)), b.choice((1, 2, 3)), b.choice((3, 4, 5)), b.choice((3, 4, 5))
    x = b.new_input((n, h, w, c) if nhwc else (n, c, h, w))
    pads4 = [int(p) for p in b.rng.integers(0, 3, 4)]
    mode = b.choice(("constant", "constant", "constant", "reflect"))
    value = 0.0 if b.chance(0.8) else 0.5
    if nhwc:
        pads = [0, pads4[0], pads4[1], 0, 0, pads4[2], pads4[3], 0]
        if b.chance(0.7):
            x = _pad(b, x, pads, mode, value)
        x = b.op1("Transpose", [x], {"perm": [0, 3, 1, 2]})
    elif b.chance(0.7):
        x = _pad(b, x, [0, 0, pads4[0], pads4[1], 0, 0, pads4[2], pads4[3]], mode, value)
    group = b.choice([g for g in (1, c) if c % g == 0])
    o = group * b.choice((1, 2))
    k = b.choice((1, 2, 3))
    attrs: dict[str, Any] = {"group": group, "strides": [b.choice((1, 2))] * 2}
    if b.chance(0.5):
        attrs["pads"] = [int(p) for p in b.rng.integers(0, 2, 4)]
    y = b.op1("Conv", [x, b.random_const((o, c // group, k, k), role=Role.PARAMETER)], attrs)
    if b.chance(0.5):
        shape = b.choice(((o, 1, 1), (1, o, 1, 1)))
        y = b.op1("Add", [y, b.random_const(shape)] if b.chance(0.7) else [b.random_const(shape), y])
    if b.chance(0.7):
        y = _batchnorm(b, y, o)
    y = b.op1("Relu", [y])
    if nhwc and b.chance(0.5):
        b.op1("Transpose", [y], {"perm": [0, 2, 3, 1]})


def _pad(b: _Builder, x: Value, pads: list[int], mode: str, value: float) -> Value:
    ins: list[Value | None] = [x, b.ints(pads)]
    if mode == "constant" and (value or b.chance(0.5)):
        ins.append(b.const(np.array(value, np.float32)))
    if mode == "reflect" and min(b.shape(x)[1:]) <= max(pads):
        mode = "edge"
    return b.op1("Pad", ins, {"mode": mode})


def matmul_add(b: _Builder) -> None:
    x = b.pick(min_rank=1)
    if x is None:
        return
    k, m = b.shape(x)[-1], b.choice((1, 2, 3, 4))
    if b.chance(0.4):  # torch's linear: Transpose(weight) then MatMul
        w = b.op1("Transpose", [b.random_const((m, k), role=Role.PARAMETER)], {"perm": [1, 0]}, pool=False)
    else:
        w = b.random_const((k, m))
    if len(b.shape(x)) == 2 and b.chance(0.3):
        b.op1("Gemm", [x, w, b.random_const((m,))])
        return
    y = b.op1("MatMul", [x, w])
    if b.chance(0.7):
        b.op1("Add", [y, b.random_const((m,))] if b.chance(0.7) else [b.random_const((m,)), y])


def softmax(b: _Builder) -> None:
    x = b.pick(min_rank=1)
    if x is None:
        return
    rank = len(b.shape(x))
    axis = int(b.rng.integers(-rank, rank)) if b.opset >= 13 else rank - 1
    b.op1(b.choice(("Softmax", "LogSoftmax", "Softmax")), [x], {"axis": axis})


def reduce(b: _Builder) -> None:
    x = b.pick(min_rank=1)
    if x is None:
        return
    rank = len(b.shape(x))
    axes = sorted(int(a) for a in b.rng.choice(rank, int(b.rng.integers(1, rank + 1)), replace=False))
    op = b.choice(("ReduceSum", "ReduceMean", "ReduceMax"))
    since = 13 if op == "ReduceSum" else 18
    b.axes_op(op, x, axes, since, keepdims=int(b.chance(0.5)))


def concat_split(b: _Builder) -> None:
    x = b.pick(min_rank=1)
    if x is None:
        return
    shape = b.shape(x)
    axis = int(b.rng.integers(-len(shape), len(shape)))
    other = x if b.chance(0.5) else b.random_const(shape)
    y = b.op1("Concat", [x, other], {"axis": axis})
    if b.chance(0.4):
        n = b.shape(y)[axis]
        first = int(b.rng.integers(1, n)) if n > 1 else 0
        if first:
            b.op("Split", [y, b.ints([first, n - first])], {"axis": axis}, n_outputs=2)


def duplicate(b: _Builder) -> None:
    """The same op on the same inputs again (CSE merges it), sometimes reading an equal
    copy of a constant; or an equal copy of a named weight (CSE must keep both)."""
    nodes = [n for n in b.g.nodes() if n.op_type not in ("Constant", "Split") and not n.subgraphs()]
    if not nodes:
        return
    node = b.choice(nodes)
    ins = b.g.node_inputs(node)
    new_ins = []
    for v in ins:
        if v is not None and v.is_const and b.chance(0.5):
            role = v.role if b.chance(0.5) else Role.CONSTANT
            v = b.const(np.array(b.arrays[v]), role=role)  # equal data, its own value
        new_ins.append(v)
    b.op(node.op_type, new_ins, dict(node.attrs), n_outputs=node.n_outputs)


def equal_weights(b: _Builder) -> None:
    """Three convs-like uses of equal zero biases, each its own named parameter."""
    x = b.pick(min_rank=1)
    if x is None:
        return
    m = b.shape(x)[-1]
    for _ in range(3):
        bias = b.const(np.zeros(m, np.float32), role=Role.PARAMETER)
        x = b.op1("Add", [b.op1("Relu", [x]), bias])


def shared_weight(b: _Builder) -> None:
    """A named per-channel weight read inside an NHWC sandwich and, as it is, elsewhere
    (a Keras layer applied twice): the transpose pass must not copy it."""
    x = b.pick(rank=4)
    if x is None:
        x = b.new_input((b.choice((1, 2)), b.choice((2, 3)), b.choice((2, 3)), b.choice((2, 3, 4))))
    c = b.shape(x)[3]
    w = b.random_const(b.choice(((c, 1, 1), (1, c, 1, 1))), role=Role.PARAMETER)
    t = b.op1("Transpose", [x], {"perm": [0, 3, 1, 2]})
    b.op1("Transpose", [b.op1(b.choice(("Mul", "Add")), [t, w])], {"perm": [0, 2, 3, 1]})
    other = b.new_input((1, c, 2, 2))
    b.op1("Sub", [other, w])


def int_ops(b: _Builder) -> None:
    """Comparisons, Where, ArgMax, Cast: int and bool values (compared exactly)."""
    x = b.pick(min_rank=1)
    if x is None:
        return
    kind = b.choice(("where", "argmax", "cast"))
    if kind == "where":
        (cond,) = b.op(b.choice(("Greater", "Less")), [x, b.random_const(_broadcast_shape(b, b.shape(x)))],
                       pool=False)
        b.op1("Where", [cond, x, b.op1("Neg", [x])])
    elif kind == "argmax":
        rank = len(b.shape(x))
        b.op("ArgMax", [x], {"axis": int(b.rng.integers(-rank, rank)), "keepdims": int(b.chance(0.5))},
             pool=False)
    else:
        (i,) = b.op("Cast", [b.op1("Mul", [x, b.const(np.array(4.0, np.float32))])],
                    {"to": int(DType.INT64)}, pool=False)
        b.op1("Cast", [i], {"to": int(DType.FLOAT)})


def no_ops(b: _Builder) -> None:
    x = b.pick()
    if x is None:
        return
    shape = b.shape(x)
    kind = b.choice(("identity", "cast", "dropout", "expand", "transpose", "reshape"))
    if kind == "cast":
        b.op1("Cast", [x], {"to": int(DType.FLOAT)})
    elif kind == "dropout":
        b.op1("Dropout", [x])
    elif kind == "expand":
        b.op1("Expand", [x, b.ints(list(shape))])
    elif kind == "transpose":
        b.op1("Transpose", [x], {"perm": list(range(len(shape)))})
    elif kind == "reshape":
        b.op1("Reshape", [x, b.ints(list(shape))])
    else:
        b.op1("Identity", [x])


def patterns(b: _Builder) -> None:
    """The formulas fuse_patterns recognises: exact / tanh GELU, RMS norm, TF's batch norm."""
    x = b.pick(min_rank=1)
    if x is None:
        return
    kind = b.choice(("gelu", "gelu_tanh", "rms", "bn"))
    f = b.scalar
    if kind == "gelu":
        e = b.op1("Erf", [b.op1("Div", [x, f(np.sqrt(2.0))])])
        b.op1("Mul", [b.op1("Mul", [x, b.op1("Add", [e, f(1.0)])]), f(0.5)])
    elif kind == "gelu_tanh":
        cube = b.op1("Mul", [b.op1("Pow", [x, f(3.0)]), f(0.044715)])
        t = b.op1("Tanh", [b.op1("Mul", [b.op1("Add", [x, cube]), f(np.sqrt(2 / np.pi))])])
        b.op1("Mul", [b.op1("Mul", [x, b.op1("Add", [t, f(1.0)])]), f(0.5)])
    elif kind == "rms":
        ms = b.axes_op("ReduceMean", b.op1("Pow", [x, f(2.0)]), [-1], 18, keepdims=1)
        r = b.op1("Reciprocal", [b.op1("Sqrt", [b.op1("Add", [ms, f(1e-5)])])])
        y = b.op1("Mul", [x, r])
        if b.chance(0.5):
            b.op1("Mul", [y, b.random_const((b.shape(x)[-1],), role=Role.PARAMETER)])
    else:
        _tf_batchnorm(b, x)


def _tf_batchnorm(b: _Builder, x: Value) -> None:
    """y = x * m + (beta - mean * m), m = gamma / sqrt(var + eps), channels last."""
    c = b.shape(x)[-1]
    var = b.const(b.rng.uniform(0.5, 2.0, c).astype(np.float32), role=Role.BUFFER)
    m = b.op1("Reciprocal", [b.op1("Sqrt", [b.op1("Add", [var, b.const(np.array(1e-3, np.float32))])])])
    m = b.op1("Mul", [m, b.random_const((c,), role=Role.PARAMETER)])
    shift = b.op1("Sub", [b.random_const((c,), role=Role.PARAMETER),
                          b.op1("Mul", [b.random_const((c,), role=Role.BUFFER), m])])
    b.op1("Add", [b.op1("Mul", [x, m]), shift])


def const_only(b: _Builder) -> None:
    """Ops on constants only (constant folding), used by a live op."""
    shape = tuple(b.choice(DIMS) for _ in range(int(b.rng.integers(1, 4))))
    c = b.random_const(shape)
    kind = b.choice(("add", "transpose", "reshape", "gather"))
    if kind == "add":
        y = b.op1("Add", [c, b.random_const(_broadcast_shape(b, shape))])
    elif kind == "transpose" and len(shape) >= 2:
        y = b.op1("Transpose", [c], {"perm": _perm(b, len(shape))})
    elif kind == "reshape":
        y = b.op1("Reshape", [c, b.ints([-1])])
    else:
        y = b.op1("Gather", [c, b.ints([0, -1])], {"axis": 0})
    x = b.pick()
    if x is not None and _broadcasts(b.shape(x), b.shape(y)):
        b.op1("Mul", [x, y])


def if_branches(b: _Builder) -> None:
    """If(sum(x) > 0): then Transpose -> Relu -> Transpose back (+ a dead op), else x * c for
    a main-graph constant c: passes recurse into the branches, and what they read by name
    from the enclosing graph (x, c) must survive."""
    x = b.pick(min_rank=2)
    if x is None:
        return
    shape = b.shape(x)
    s = b.axes_op("ReduceSum", x, list(range(len(shape))), 13, keepdims=0)
    (cond,) = b.op("Greater", [s, b.const(np.array(0.0, np.float32))], pool=False)
    c = b.const(np.array(-0.5, np.float32))
    then = b.g.subgraph("then")
    tx = then.add_outer_ref(x.name, x.type)
    p = _perm(b, len(shape))
    (t,) = then.add_op("Transpose", [tx], {"perm": p})
    (r,) = then.add_op("Relu", [t])
    then.add_op("Exp", [r])  # dead
    (back,) = then.add_op("Transpose", [r], {"perm": [p.index(i) for i in range(len(p))]})
    then.set_outputs([then.add_op("Identity", [back])[0]])
    other = b.g.subgraph("else")
    (neg,) = other.add_op("Mul", [other.add_outer_ref(x.name, x.type), other.add_outer_ref(c.name, c.type)])
    other.set_outputs([neg])
    (y,) = b.g.add_op("If", [cond], {"then_branch": then, "else_branch": other})
    data = b.arrays[x]
    a = np.maximum(data, 0) if bool(b.arrays[cond]) else data * np.float32(-0.5)
    b.arrays[y] = a.astype(np.float32)
    b.declare(y, b.arrays[y])
    b.pool.append(y)


MOVES: list[tuple[Callable[[_Builder], None], float]] = [
    (transpose, 3), (layout_sandwich, 3), (binary_const, 3), (binary_pair, 1.5), (unary, 1.5),
    (reshape, 2), (unsqueeze_squeeze, 2), (gather_table, 1), (gather_data, 1), (relpos_bias, 0.7),
    (slice_op, 1), (conv_chain, 3), (matmul_add, 1.5), (softmax, 1), (reduce, 1),
    (concat_split, 1), (duplicate, 1.5), (equal_weights, 0.3), (shared_weight, 0.5), (int_ops, 1), (no_ops, 1.5),
    (patterns, 2), (const_only, 1), (if_branches, 0.5),
]
