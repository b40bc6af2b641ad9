"""Control-flow emitters: If -> tf.cond, Loop -> tf.while_loop, Scan -> tf.while_loop over
TensorArrays. Bodies are IR graphs run through ``ctx.run_subgraph``, which binds the
enclosing scope's values (outer-scope references); TF captures those tensors into the
branch / loop functions it traces.

Where the IR makes the decision static (a constant condition, a constant trip count), the
emitters decide in Python instead: that is also how loops that carry sequences (Python lists)
or optionals (None) are emitted, since tf.while_loop can only carry tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.ops.shape import (
    I64,
    LAYER,
    as_tensor,
    results,
    static,
)
from tensorbridge.converters.tensorflow.from_ir.registry import emits, out_dtype
from tensorbridge.ir import scan_math as sm
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.types import TensorType

Runner = Callable[[Graph, Sequence[Any]], list[Any]]


def runner(ctx: EmitContext, op_type: str) -> Runner:
    if ctx.run_subgraph is None:
        raise UnsupportedOpError(LAYER, op_type, hint="needs an interpreter that runs subgraphs")
    return ctx.run_subgraph


def _flag(v: Any) -> Any:
    return tf.reshape(tf.cast(v, tf.bool), [])


def _is_data(v: Any) -> bool:
    """A tensor (or weight), as opposed to a sequence (list) or an optional (None)."""
    return v is not None and not isinstance(v, list)


@emits("If", since=1)
def if_(cond: Any, *, then_branch: Graph, else_branch: Graph, ctx: EmitContext) -> Any:
    """If(B cond) -> V outputs: runs one branch."""
    run = runner(ctx, "If")
    known = static(cond)
    if known is not None:
        return results(run(then_branch if bool(known.reshape(-1)[0]) else else_branch, []), ctx)

    def branch(g: Graph) -> Callable[[], list[Any]]:
        return lambda: [as_tensor(v) if _is_data(v) else v for v in run(g, [])]

    return results(tf.cond(_flag(cond), branch(then_branch), branch(else_branch)), ctx)


def _element_spec(ctx: EmitContext, i: int, axis: int = 0) -> tuple[Any, Any]:
    """dtype and per-iteration element shape of scan output ``i`` (from the IR types, with
    the scan axis removed); the shape is only a hint, None when unknown."""
    t = ctx.output_type(i)
    shape = None
    if t is not None and t.shape is not None and len(t.shape) > axis:
        rest = [d if isinstance(d, int) else None for d in t.shape]
        shape = tf.TensorShape(rest[:axis] + rest[axis + 1:])
    return out_dtype(ctx, i), shape


def _stack(items: list[Any], ctx: EmitContext, i: int) -> Any:
    if items:
        return tf.stack(items)
    dtype, shape = _element_spec(ctx, i)
    dims = [d or 0 for d in shape.as_list()] if shape is not None and shape.rank is not None else []
    return tf.zeros([0, *dims], dtype or tf.float32)


def _loop_unrolled(M: Any, cond: Any, v_initial: Sequence[Any], body: Graph,
                   ctx: EmitContext) -> list[Any]:
    """Runs the body once per iteration while tracing: the trip count and every condition
    must be static (sequences built in a loop, e.g. SequenceMap's expansion, are)."""
    run = runner(ctx, "Loop")
    hint = "a loop that carries sequences or optionals needs a trip count and condition known " \
        "at conversion time"
    trip = None if M is None else static(M)
    if M is not None and trip is None:
        raise UnsupportedOpError(LAYER, "Loop", hint=hint)
    trip_n = None if trip is None else int(trip.reshape(-1)[0])

    def truth(v: Any) -> bool:
        known = static(v)
        if known is None:
            raise UnsupportedOpError(LAYER, "Loop", hint=hint)
        return bool(known.reshape(-1)[0])

    going = True if cond is None else truth(cond)
    carried = list(v_initial)
    n = len(carried)
    scans: list[list[Any]] = [[] for _ in range(len(body.outputs) - 1 - n)]
    i = 0
    while going and (trip_n is None or i < trip_n):
        outs = run(body, [tf.constant(i, I64), tf.constant(True), *carried])
        going = truth(outs[0])
        carried = list(outs[1:1 + n])
        for acc, y in zip(scans, outs[1 + n:], strict=True):
            acc.append(y)
        i += 1
    return [*carried, *(_stack(acc, ctx, n + k) for k, acc in enumerate(scans))]


def _relaxed(v: Any) -> tf.TensorShape:
    """Loop-carried values may change shape between iterations: keep only the rank."""
    rank = v.shape.rank
    return tf.TensorShape(None if rank is None else [None] * rank)


def _probe_dtypes(run: Runner, body: Graph, specs: list[Any]) -> list[Any]:
    """The dtypes of the body's outputs, when the IR does not know them: trace the body once
    as a throwaway function (the TensorArrays of scan outputs need their dtype up front)."""
    fn = tf.function(lambda *args: run(body, list(args)), autograph=False)
    return [tf.convert_to_tensor(o).dtype for o in fn.get_concrete_function(*specs).structured_outputs]


def _loop_while(M: Any, cond: Any, v_initial: Sequence[Any], body: Graph,
                ctx: EmitContext) -> list[Any]:
    run = runner(ctx, "Loop")
    n = len(v_initial)
    n_scan = len(body.outputs) - 1 - n
    trip = None if M is None else tf.reshape(tf.cast(M, I64), [])
    carried = [as_tensor(v) for v in v_initial]
    specs = [_element_spec(ctx, n + k) for k in range(n_scan)]
    if any(dtype is None for dtype, _ in specs):
        probed = _probe_dtypes(run, body, [tf.TensorSpec([], I64), tf.TensorSpec([], tf.bool),
                                           *(tf.TensorSpec(_relaxed(v), v.dtype) for v in carried)])
        specs = [(dtype or probed[1 + n + k], shape) for k, (dtype, shape) in enumerate(specs)]
    arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=shape)
              for dtype, shape in specs]

    def going(i: Any, keep: Any, carried: list[Any], tas: list[Any]) -> Any:
        return keep if trip is None else tf.logical_and(keep, i < trip)

    def step(i: Any, keep: Any, carried: list[Any], tas: list[Any]) -> tuple[Any, ...]:
        outs = run(body, [i, keep, *carried])
        new = [as_tensor(v) for v in outs[1:1 + n]]
        tas = [ta.write(tf.cast(i, tf.int32), y) for ta, y in zip(tas, outs[1 + n:], strict=True)]
        return i + 1, _flag(outs[0]), new, tas

    keep = tf.constant(True) if cond is None else _flag(cond)
    invariants = (tf.TensorShape([]), tf.TensorShape([]), [_relaxed(v) for v in carried],
                  [tf.TensorShape(None)] * n_scan)
    _, _, carried, arrays = tf.while_loop(going, step, (tf.constant(0, I64), keep, carried, arrays),
                                          shape_invariants=invariants)
    return [*carried, *(ta.stack() for ta in arrays)]


@emits("Loop", since=1)
def loop(M: Any, cond: Any, *v_initial: Any, body: Graph, ctx: EmitContext) -> Any:
    """Loop(I M?, B cond?, V v_initial...) -> V v_final_and_scan_outputs."""
    if all(_is_data(v) for v in v_initial):
        return results(_loop_while(M, cond, v_initial, body, ctx), ctx)
    return results(_loop_unrolled(M, cond, v_initial, body, ctx), ctx)


def _move(x: Any, src: int, dst: int) -> Any:
    if src == dst:
        return x
    perm = list(range(x.shape.rank))
    perm.insert(dst, perm.pop(src))
    return tf.transpose(x, perm)


def _dims(x: Any) -> list[Any] | None:
    """Static dims (None where unknown), or None when the rank is unknown."""
    return None if x.shape.rank is None else x.shape.as_list()


def _scan_outputs_dtypes(plan: sm.ScanPlan, body: Graph, run: Runner, ctx: EmitContext,
                         state: list[Any], xs: list[Any]) -> list[Any]:
    dtypes = [out_dtype(ctx, plan.n_state + k) for k in range(plan.n_out)]
    if any(d is None for d in dtypes):
        specs = [tf.TensorSpec(_relaxed(v), v.dtype) for v in state]
        specs += [tf.TensorSpec(x.shape[1:], x.dtype) for x in xs]
        probed = _probe_dtypes(run, body, specs)
        dtypes = [d or probed[plan.n_state + k] for k, d in enumerate(dtypes)]
    return dtypes


def _placed(plan: sm.ScanPlan, body: Graph, k: int, y: Any) -> Any:
    """Stacked scan output ``k`` ([steps, ...], in step order) reversed and moved to its axis."""
    if plan.out_dirs[k]:
        y = tf.reverse(y, [0])
    if plan.out_axes[k] == 0:
        return y
    rank = y.shape.rank
    t = body.outputs[plan.n_state + k].type
    element_rank = rank - 1 if rank is not None else t.rank if isinstance(t, TensorType) else None
    if element_rank is None:
        raise UnsupportedOpError(LAYER, "Scan", hint=f"scan output {k} has an unknown rank, so "
                                 f"scan_output_axes {list(plan.out_axes)} cannot be placed; give "
                                 "the body's outputs shapes")
    return _move(y, 0, plan.out_axis(k, element_rank))


def _step_shape(plan: sm.ScanPlan, ctx: EmitContext, k: int, batched: bool) -> Any:
    """The per-step shape of scan output ``k`` from the node's output type (its scan axis
    removed, and for Scan-8, ``batched``, the batch axis first): a hint, None when unknown."""
    t = ctx.output_type(plan.n_state + k)
    if t is None or t.shape is None or len(t.shape) < 1 + batched:
        return None
    dims = [d if isinstance(d, int) else None for d in t.shape[1 if batched else 0:]]
    del dims[plan.out_axis(k, len(dims) - 1)]
    return tf.TensorShape(dims)


def _pad_steps(y: Any, steps: Any, length: Any) -> Any:
    """``y`` [steps, ...] zero-padded on axis 0 to ``length`` entries (Scan-8's short
    sequences)."""
    pads = tf.concat([[[0, length - steps]], tf.zeros([tf.rank(y) - 1, 2], tf.int32)], 0)
    return tf.pad(y, pads)


def _scan_core(plan: sm.ScanPlan, state: list[Any], xs: list[Any], body: Graph, run: Runner,
               ctx: EmitContext, *, batched: bool = False, steps: Any = None,
               pad_to: Any = None) -> list[Any]:
    """One Scan: the scanned inputs are unstacked along the plan's axes, the body runs per
    step in a tf.while_loop reading the plan's element of each, and the scan outputs are
    stacked, reversed and placed as the plan says. ``batched``: one entry of a Scan-8, whose
    node outputs have a batch axis first; ``steps`` overrides the plan's count (a run-time
    one); ``pad_to`` zero-pads the scan outputs to that many steps (Scan-8)."""
    if steps is None and plan.steps == 0:  # nothing to run: states as given, empty outputs
        empty = [sm.empty_output(plan, body, k) for k in range(plan.n_out)]
        return [*state, *(tf.zeros(shape, tf.float32 if d is None else tf_dtype(d))
                          for shape, d in empty)]
    seqs = [_move(x, a, 0) for x, a in zip(xs, plan.in_axes, strict=True)]
    if steps is None:
        steps = plan.steps if plan.steps is not None else tf.shape(seqs[0])[0]
    inputs = [tf.TensorArray(x.dtype, size=tf.shape(x)[0], element_shape=x.shape[1:]).unstack(x)
              for x in seqs]
    n_state = plan.n_state
    arrays = [tf.TensorArray(d, size=steps, element_shape=_step_shape(plan, ctx, k, batched))
              for k, d in enumerate(_scan_outputs_dtypes(plan, body, run, ctx, state, seqs))]

    def step(t: Any, state: list[Any], tas: list[Any]) -> tuple[Any, ...]:
        outs = run(body, [*state, *(ta.read(plan.index(j, t, steps)) for j, ta in enumerate(inputs))])
        new = [as_tensor(v) for v in outs[:n_state]]
        return t + 1, new, [ta.write(t, y) for ta, y in zip(tas, outs[n_state:], strict=True)]

    invariants = (tf.TensorShape([]), [_relaxed(v) for v in state],
                  [tf.TensorShape(None)] * plan.n_out)
    _, state, arrays = tf.while_loop(lambda t, *_: t < steps, step,
                                     (tf.constant(0), list(state), arrays),
                                     shape_invariants=invariants)
    stacked = [ta.stack() for ta in arrays]
    if pad_to is not None:
        stacked = [_pad_steps(y, steps, pad_to) for y in stacked]
    return [*state, *(_placed(plan, body, k, y) for k, y in enumerate(stacked))]


@emits("Scan", since=9)
def scan(*inputs: Any, body: Graph, num_scan_inputs: int,
         scan_input_axes: tuple[int, ...] | None = None,
         scan_input_directions: tuple[int, ...] | None = None,
         scan_output_axes: tuple[int, ...] | None = None,
         scan_output_directions: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Scan-9(V initial_state_and_scan_inputs...) -> V final_state_and_scan_outputs."""
    values = [tf.convert_to_tensor(as_tensor(v)) for v in inputs]
    plan = sm.scan_plan(body, [_dims(v) for v in values], num_scan_inputs=num_scan_inputs,
                        scan_input_axes=scan_input_axes, scan_input_directions=scan_input_directions,
                        scan_output_axes=scan_output_axes,
                        scan_output_directions=scan_output_directions)
    outs = _scan_core(plan, values[:plan.n_state], values[plan.n_state:], body,
                      runner(ctx, "Scan"), ctx)
    return results(outs, ctx)


def _checked_lens(sequence_lens: Any, plan: sm.Scan8Plan, time: Any) -> Any:
    """sequence_lens as int32; a run-time value is checked to lie in 1..time (as the plan
    checks a constant one)."""
    if plan.lens is not None:
        return tf.constant(plan.lens, tf.int32)
    lens = tf.reshape(tf.cast(sequence_lens, tf.int32), [-1])
    message = "Scan: each sequence_lens entry must be in 1..(the scanned inputs' time axis)"
    with tf.control_dependencies([tf.debugging.assert_greater_equal(lens, 1, message=message),
                                  tf.debugging.assert_less_equal(lens, time, message=message)]):
        return tf.identity(lens)


@emits("Scan", since=8)
def scan_8(sequence_lens: Any, *inputs: Any, body: Graph, num_scan_inputs: int,
           directions: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Scan-8(I sequence_lens?, V initial_state_and_scan_inputs...): batch axis 0, time axis 1;
    one Scan per batch entry (tf.map_fn), the scan outputs of a shorter sequence zero-padded."""
    values = [tf.convert_to_tensor(as_tensor(v)) for v in inputs]
    known = None if sequence_lens is None else static(sequence_lens)
    plan = sm.scan8_plan(body, [_dims(v) for v in values],
                         None if known is None else known.reshape(-1).tolist(),
                         num_scan_inputs=num_scan_inputs, directions=directions)
    run = runner(ctx, "Scan")
    n_state = plan.n_state
    time = plan.max_len if plan.max_len is not None else tf.shape(values[n_state])[1]
    n_in = len(values)
    if sequence_lens is not None:  # each entry's length rides along with its slices
        values.append(_checked_lens(sequence_lens, plan, time))

    def one(batch: list[Any]) -> list[Any]:
        cut = sequence_lens is not None
        return _scan_core(plan.entry(), list(batch[:n_state]), list(batch[n_state:n_in]), body,
                          run, ctx, batched=True, steps=batch[-1] if cut else None,
                          pad_to=time if cut else None)

    spec = [tf.TensorSpec(None, out_dtype(ctx, k)) for k in range(len(body.outputs))]
    return results(tf.map_fn(one, values, fn_output_signature=spec), ctx)


@emits("SequenceMap", since=17)
def sequence_map(input_sequence: list[Any], *additional_inputs: Any, body: Graph,
                 ctx: EmitContext) -> Any:
    """SequenceMap(S input_sequence, V additional_inputs...) -> S out_sequence...: the body
    runs once per element while tracing (the list's length is static)."""
    run = runner(ctx, "SequenceMap")
    outs: list[list[Any]] = [[] for _ in body.outputs]
    for i, x in enumerate(input_sequence):
        extra = [a[i] if isinstance(a, list) else a for a in additional_inputs]
        for acc, y in zip(outs, run(body, [x, *extra]), strict=True):
            acc.append(y)
    return results(outs, ctx)
