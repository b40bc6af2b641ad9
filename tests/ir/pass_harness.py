"""Translation validation of the IR passes: run a graph on the runtime before and after a
pass and require the same results (exact for ints, bools and strings; a tight tolerance
for floats, which fusions may round differently), a graph that still verifies, declared
types that still match what the runtime computes, and every named weight kept (one source
parameter stays one parameter: nothing merges, drops (DCE excepted) or copies them into
anonymous constants, which a migration would emit as second, frozen tensors).

A failure names the pass and prints a minimal graph: the failing graph is shrunk (fewer
outputs, downstream ops cut off, ops replaced by graph inputs or constants holding the
values they computed) while the pass still breaks it, then printed with ir/printer.py.
"""

from __future__ import annotations

import copy
import functools
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir import DType, Graph, Node, Role, TensorType, Value, format_graph, verify
from tensorbridge.ir.passes import eliminate_common_subexpressions, eliminate_dead_code
from tensorbridge.ir.passes.channels_last import DEPTHWISE, DOMAIN, to_channels_last
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.ir.passes.fuse_conv_bias import fuse_conv_bias
from tensorbridge.ir.passes.fuse_conv_bn import fuse_conv_batchnorm
from tensorbridge.ir.passes.fuse_pad import fuse_pad_into_conv
from tensorbridge.ir.passes.fuse_patterns import fuse_patterns
from tensorbridge.ir.passes.fuse_rnn_loop import fuse_rnn_loops
from tensorbridge.ir.passes.patterns import GraphView
from tensorbridge.ir.passes.simplify import remove_no_ops
from tensorbridge.ir.passes.transpose import optimize_transposes
from tensorbridge.ir.passes.widen import widen_float32
from tensorbridge.runtime.evaluate import evaluate_node
from tensorbridge.runtime.session import Session

Feeds = dict[str, Any]
RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Bernoulli", "Multinomial"})


@dataclass(frozen=True)
class PassSpec:
    """How to apply one pass (or pipeline) and how to run and compare its result."""

    name: str
    apply: Callable[[Graph], Any]
    keeps_weights: bool = True  # named weights all survive (by name)
    lower: Callable[[Graph, Graph], None] | None = None  # make the result runnable (nhwc twins)
    widens: bool = False  # float32 -> float64: feeds widened, compared at float32 precision
    verifies: bool = True  # the result passes verify (the float64 twin need not: it is only run)
    skip_ops: frozenset[str] = frozenset()  # graphs with these ops are out of the pass's scope


def _pipeline(name: str, graph: Graph) -> Any:
    from tensorbridge.ir.passes.pipeline import run_pipeline

    return run_pipeline(graph, name, evaluate_node)


def _channels_last(graph: Graph) -> Any:
    from tensorbridge.migrate import channels_last

    return channels_last(graph)


def lower_channels_last(graph: Graph, original: Graph) -> None:
    """Spell each tensorbridge.nhwc twin as Transpose -> the standard op -> Transpose (its
    weight re-laid out back to ONNX's), so the runtime, which has no kernels for the twins,
    runs the channels-last graph (test-side only; the TF emitter runs the twins natively)."""
    for node in graph.nodes():
        if node.domain != DOMAIN:
            continue
        ins = graph.node_inputs(node)
        rank = _twin_rank(graph, original, node)
        to_first, to_last = (0, rank - 1, *range(1, rank - 1)), (0, *range(2, rank), 1)
        new_ins: list[Value | None] = list(ins)
        new_ins[0] = graph.add_op("Transpose", [ins[0]], {"perm": list(to_first)})[0]
        if node.op_type in ("Conv", "ConvTranspose", DEPTHWISE) and len(ins) > 1 and ins[1] is not None:
            w = ins[1]
            if node.op_type == DEPTHWISE:  # (kh, kw, C, mult) -> (kh, kw, 1, C * mult)
                w = graph.add_op("Reshape", [w, graph.add_constant("dw_shape", np.array([0, 0, 1, -1]))])[0]
            # (k..., I, O) -> (O, I, k...)
            new_ins[1] = graph.add_op("Transpose", [w], {"perm": [rank - 1, rank - 2, *range(rank - 2)]})[0]
        op_type = "Conv" if node.op_type == DEPTHWISE else node.op_type
        outs = graph.add_op(op_type, new_ins, dict(node.attrs), n_outputs=node.n_outputs)
        renames = []
        for i, (old, new) in enumerate(zip(graph.node_outputs(node), outs)):
            if old is None or new is None:
                continue
            back = graph.add_op("Transpose", [new], {"perm": list(to_last)})[0] if i == 0 else new
            graph.replace_all_uses(old, back)
            renames.append((back, old.name))
        graph.remove(node, force=True)
        for v, name in renames:
            graph.rename(v, name)
    verify(graph)


def _twin_rank(graph: Graph, original: Graph, node: Node) -> int:
    """The data rank of a twin: declared, through its producers, from its weight or window,
    else as the pass found it on the op it replaced."""
    ins = graph.node_inputs(node)
    weight = ins[1:2] if node.op_type in ("Conv", "ConvTranspose", DEPTHWISE) else []
    for v in [ins[0], *graph.node_outputs(node)[:1], *weight]:
        if v is not None and v.shape is not None:
            return len(v.shape)
    kernel = node.attr("kernel_shape", None)
    rank = GraphView(graph).rank(ins[0]) or (len(kernel) + 2 if kernel else 0)
    source = node.name.removesuffix("_nhwc")
    if not rank and source in {n.name for n in original.nodes()}:
        rank = GraphView(original).rank(original.node_inputs(original.node(source))[0])
    assert rank, f"lower_channels_last: rank of {node.name} unknown"
    return rank


def _fold(graph: Graph, **kw: Any) -> Any:
    return fold_constants(graph, evaluate_node, **kw)


PASSES: dict[str, PassSpec] = {s.name: s for s in [
    PassSpec("fuse_patterns", fuse_patterns),
    PassSpec("fold_constants", _fold),
    PassSpec("fold_constants(keep layout)", functools.partial(_fold, relayout_weights=False)),
    PassSpec("fuse_rnn_loops", fuse_rnn_loops),
    PassSpec("fuse_rnn_loops(keep_weights)", functools.partial(fuse_rnn_loops, keep_weights=True)),
    PassSpec("remove_no_ops", remove_no_ops),
    PassSpec("optimize_transposes", optimize_transposes),
    PassSpec("optimize_transposes(keep_weight_layout)",
             functools.partial(optimize_transposes, keep_weight_layout=True)),
    PassSpec("fuse_conv_bias", fuse_conv_bias),
    PassSpec("fuse_pad_into_conv", fuse_pad_into_conv),
    PassSpec("fuse_conv_batchnorm", fuse_conv_batchnorm),
    PassSpec("eliminate_common_subexpressions", eliminate_common_subexpressions),
    PassSpec("eliminate_dead_code", eliminate_dead_code, keeps_weights=False),
    PassSpec("eliminate_dead_code(keep_weights)", functools.partial(eliminate_dead_code, keep_weights=True)),
    PassSpec("to_channels_last", to_channels_last, lower=lower_channels_last),
    # the float64 twin only calibrates tolerances: it is run, not exported (float-only op
    # schemas reject it); bit-level ops cannot have one and quantization rounds a float64
    # scale to other integers at ties
    PassSpec("widen_float32", widen_float32, widens=True, verifies=False,
             skip_ops=frozenset({"BitCast", "DynamicQuantizeLinear", "QuantizeLinear"})),
]}
PIPELINES: dict[str, PassSpec] = {s.name: s for s in [
    *(PassSpec(f"pipeline_{name}", functools.partial(_pipeline, name), keeps_weights=name == "migrate")
      for name in ("clean", "deploy", "migrate")),
    PassSpec("migrate.channels_last", _channels_last, lower=lower_channels_last),
]}
ALL: dict[str, PassSpec] = {**PASSES, **PIPELINES}


# ------------------------------------------------------------------ running and comparing
@dataclass
class Run:
    outputs: list[Any]
    values: dict[str, Any]  # every op output, by name


def run(graph: Graph, feeds: Mapping[str, Any]) -> Run:
    """The graph on the runtime, op by op (no runtime fusion: the ops' own semantics)."""
    s = Session(graph, fuse=False)
    outs = s.run(dict(feeds), capture=True)
    return Run(outs, dict(s.captured))


def _uses(graph: Graph, ops: frozenset[str]) -> bool:
    return any(n.op_type in ops or any(_uses(s, ops) for s in n.subgraphs()) for n in graph.nodes())


def has_random_ops(graph: Graph) -> bool:
    return _uses(graph, RANDOM_OPS)


def _tolerance(dtype: np.dtype, widened: bool) -> tuple[float, float]:
    """(rtol, atol relative to the output's magnitude)."""
    if widened or dtype in (np.float16,) or dtype.name == "bfloat16":
        return 1e-3, 1e-4 if widened else 1e-2
    if dtype == np.float64:
        return 1e-9, 1e-10
    return 1e-4, 1e-5


def difference(expected: Any, got: Any, widened: bool = False, where: str = "output") -> str:
    """'' when ``got`` equals ``expected`` (see the module doc), else what differs."""
    if isinstance(expected, list | tuple) or isinstance(got, list | tuple):
        if not isinstance(expected, list | tuple) or not isinstance(got, list | tuple) or len(expected) != len(got):
            return f"{where}: {_kind(expected)} vs {_kind(got)}"
        return next((d for i, (e, g) in enumerate(zip(expected, got))
                     if (d := difference(e, g, widened, f"{where}[{i}]"))), "")
    if expected is None or got is None:
        return "" if expected is None and got is None else f"{where}: {_kind(expected)} vs {_kind(got)}"
    if isinstance(expected, dict):
        if not isinstance(got, dict) or expected.keys() != got.keys():
            return f"{where}: map keys differ"
        return next((d for k in expected if (d := difference(expected[k], got[k], widened, f"{where}[{k!r}]"))), "")
    e, g = np.asarray(expected), np.asarray(got)
    if e.shape != g.shape:
        return f"{where}: shape {e.shape} vs {g.shape}"
    if widened and e.dtype == np.float32 and g.dtype == np.float64:
        g = g.astype(np.float32)
    if e.dtype != g.dtype:
        return f"{where}: dtype {e.dtype} vs {g.dtype}"
    if e.dtype.kind == "V" and e.dtype.names is None:  # ml_dtypes' bfloat16, float8s, int4s...
        e, g = e.astype(np.float32), g.astype(np.float32)
        same = (e == g) | (np.isnan(e) & np.isnan(g))
        return "" if same.all() else f"{where}: {int(np.sum(~same))} of {e.size} elements differ (exact)"
    if e.dtype.kind not in "fc":
        bad = e != g if e.dtype.kind != "O" else np.array([a != b for a, b in zip(e.ravel(), g.ravel())])
        return f"{where}: {int(np.sum(bad))} of {e.size} elements differ (exact)" if np.any(bad) else ""
    e64, g64 = e.astype(np.complex128 if e.dtype.kind == "c" else np.float64), g.astype(
        np.complex128 if g.dtype.kind == "c" else np.float64)
    if not np.array_equal(np.isnan(e64), np.isnan(g64)):
        return f"{where}: NaN at different places"
    finite = np.isfinite(e64) & np.isfinite(g64)
    if not np.array_equal(e64[~finite & ~np.isnan(e64)], g64[~finite & ~np.isnan(g64)]):
        return f"{where}: infinities differ"
    if not finite.any():
        return ""
    rtol, atol = _tolerance(e.dtype, widened)
    scale = max(1.0, float(np.max(np.abs(e64[finite]))))
    err = np.abs(e64[finite] - g64[finite])
    bad = err > atol * scale + rtol * np.abs(e64[finite])
    if bad.any():
        return f"{where}: max abs error {float(err.max()):.3g} (output magnitude {scale:.3g}, dtype {e.dtype})"
    return ""


def _kind(x: Any) -> str:
    return "None" if x is None else type(x).__name__


def wrong_declarations(graph: Graph, values: Mapping[str, Any]) -> dict[str, str]:
    """Values whose declared dtype / static dims disagree with what the runtime computed."""
    wrong: dict[str, str] = {}
    for v in graph.values():
        t, a = v.type, values.get(v.name)
        if not isinstance(t, TensorType) or not isinstance(a, np.ndarray):
            continue
        if t.dtype != DType.from_numpy(a.dtype) and not (a.dtype.kind in "OUS" and t.dtype == DType.STRING):
            wrong[v.name] = f"declared {t}, computed {a.dtype}{list(a.shape)}"
        elif t.shape is not None and (len(t.shape) != a.ndim or any(
                isinstance(d, int) and d != n for d, n in zip(t.shape, a.shape))):
            wrong[v.name] = f"declared {t}, computed {a.dtype}{list(a.shape)}"
    return wrong


def named_weights(graph: Graph) -> set[str]:
    return {v.name for v in graph.initializers() if v.role is not Role.CONSTANT or v.source_name}


def _fingerprint(v: Value) -> bytes | None:
    """The sorted float data of a varied initializer (the same under any re-layout)."""
    if not isinstance(v.const, np.ndarray) or v.const.dtype.kind != "f" or v.const.size < 2:
        return None
    data = np.sort(v.const.astype(np.float64).ravel())
    return data.tobytes() if data[0] != data[-1] else None


def _widen_feeds(feeds: Mapping[str, Any]) -> Feeds:
    return {k: np.asarray(v, np.float64) if isinstance(v, np.ndarray | np.float32) and v.dtype == np.float32
            else v for k, v in feeds.items()}


@dataclass
class Reference:
    """What the graph computes before the pass, and the facts the checks compare with."""

    run: Run
    wrong: dict[str, str]  # declarations already wrong before the pass
    weights: set[str]  # named weights
    anonymous: set[bytes | None]  # fingerprints of the anonymous initializers


def reference(graph: Graph, feeds: Mapping[str, Any]) -> Reference | None:
    """The graph's run on ``feeds``, or None when it cannot serve as a reference (random
    ops, or the runtime cannot run it)."""
    if has_random_ops(graph):
        return None
    try:
        r = run(graph, feeds)
    except Exception:
        return None
    weights = named_weights(graph)
    return Reference(r, wrong_declarations(graph, r.values), weights,
                     {_fingerprint(v) for v in graph.initializers() if v.name not in weights})


def weight_copies(ref: Reference, before: Graph, after: Graph) -> list[str]:
    """New anonymous constants holding a still-used named weight's data re-laid out (the
    pass copied a parameter instead of re-laying it out in place)."""
    weights = named_weights(after)
    named = {fp: v.name for v in after.initializers()
             if v.name in weights and after.is_used(v) and (fp := _fingerprint(v))}
    return [f"{v.name} = {named[fp]}" for v in after.initializers()
            if not before.has_value(v.name) and v.name not in weights and after.is_used(v)
            and (fp := _fingerprint(v)) in named and fp not in ref.anonymous]


@dataclass(frozen=True)
class Failure:
    kind: str  # crash / verify / run / mismatch / types / weights
    detail: str


def copy_graph(graph: Graph) -> Graph:
    """A deep copy (pickled: faster than copy.deepcopy; lazy weights' loaders are closures,
    which only deepcopy takes)."""
    try:
        return pickle.loads(pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, AttributeError, TypeError):
        return copy.deepcopy(graph)


def check(spec: PassSpec, graph: Graph, feeds: Mapping[str, Any], ref: Reference | None = None) -> Failure | None:
    """Apply ``spec`` to a copy of ``graph``; None when it keeps the graph's meaning."""
    ref = ref or reference(graph, feeds)
    if ref is None:
        raise ValueError(f"{graph.name}: cannot run it, so it cannot validate a pass")
    if spec.skip_ops and _uses(graph, spec.skip_ops):
        return None
    g = copy_graph(graph)
    try:
        spec.apply(g)
    except Exception as e:  # a pass must take any valid graph
        return Failure("crash", f"{type(e).__name__}: {e}")
    try:
        if spec.verifies:
            verify(g)
    except Exception as e:
        return Failure("verify", str(e))
    lost = ref.weights - named_weights(g) if spec.keeps_weights else set()
    if lost:
        return Failure("weights", f"named weights gone: {sorted(lost)}")
    copies = weight_copies(ref, graph, g)
    if copies:
        return Failure("weights", "named weights copied into anonymous constants (a second, frozen "
                       f"tensor in a migration): {copies}")
    if spec.lower is not None:
        spec.lower(g, graph)
    try:
        after = run(g, _widen_feeds(feeds) if spec.widens else feeds)
    except Exception as e:
        return Failure("run", f"{type(e).__name__}: {e}")
    before = ref.run
    if len(after.outputs) != len(before.outputs):
        return Failure("mismatch", f"{len(before.outputs)} outputs before, {len(after.outputs)} after")
    for i, (e, a) in enumerate(zip(before.outputs, after.outputs)):
        d = difference(e, a, spec.widens, f"output {i} ({graph.outputs[i].name})")
        if d:
            return Failure("mismatch", d)
    stale = {k: v for k, v in wrong_declarations(g, after.values).items() if k not in ref.wrong}
    if stale:
        return Failure("types", "; ".join(f"{k}: {v}" for k, v in sorted(stale.items())[:5]))
    return None


def after_text(spec: PassSpec, graph: Graph) -> str:
    """The graph after ``spec``, printed (the pass applied again: passes are deterministic)."""
    g = copy_graph(graph)
    try:
        spec.apply(g)
    except Exception as e:
        return f"(the pass raised {type(e).__name__}: {e})"
    return format_graph(g)


def validate(spec: PassSpec, graph: Graph, feeds: Mapping[str, Any], case: str,
             ref: Reference | None = None) -> None:
    """Raise AssertionError naming the pass, with a minimal failing graph, when ``spec``
    changes what ``graph`` computes."""
    failure = check(spec, graph, feeds, ref)
    if failure is None:
        return
    small, small_feeds = shrink(spec, graph, feeds, failure.kind)
    final = check(spec, small, small_feeds) or failure
    shapes = ", ".join(f"{k}: {np.shape(v)}" for k, v in small_feeds.items())
    raise AssertionError(
        f"pass {spec.name} breaks {case} ({final.kind}): {final.detail}\n"
        f"--- minimal graph ({len(small)} ops; feeds {shapes}) before {spec.name}:\n{format_graph(small)}\n"
        f"--- after {spec.name}:\n{after_text(spec, small)}")


# ------------------------------------------------------------------ shrinking
def shrink(spec: PassSpec, graph: Graph, feeds: Mapping[str, Any], kind: str,
           budget: int = 400) -> tuple[Graph, Feeds]:
    """A smaller graph (and feeds) on which ``spec`` still fails the same way."""
    best, best_feeds = graph, dict(feeds)
    # dead ends as outputs: the tidying below (DCE) then keeps them, in case the pass needs them
    ends = [v.name for n in graph.nodes() for v in graph.node_outputs(n)
            if v is not None and not graph.is_used(v) and v.name not in graph.outer_names()]
    if ends:
        cand, cand_feeds = _with_outputs(graph, dict(feeds), [v.name for v in graph.outputs] + ends)
        cref = reference(cand, cand_feeds)
        f = check(spec, cand, cand_feeds, cref) if cref is not None else None
        if f is not None and f.kind == kind:
            best, best_feeds = cand, cand_feeds
    progress = True
    while progress and budget > 0:
        progress = False
        ref = reference(best, best_feeds)
        if ref is None:
            break
        for cand, cand_feeds in _candidates(best, best_feeds, ref):
            budget -= 1
            if budget <= 0:
                break
            if len(cand) > len(best) or (len(cand) == len(best) and len(cand.outputs) >= len(best.outputs)
                                          and len(cand.inputs) >= len(best.inputs)):
                continue
            cref = reference(cand, cand_feeds)
            if cref is None:
                continue
            f = check(spec, cand, cand_feeds, cref)
            if f is not None and f.kind == kind:
                best, best_feeds, progress = cand, cand_feeds, True
                break
    return best, best_feeds


def _candidates(graph: Graph, feeds: Feeds, ref: Reference) -> Iterator[tuple[Graph, Feeds]]:
    outs = [v.name for v in graph.outputs]
    if len(outs) > 1:
        for name in outs:
            yield _with_outputs(graph, feeds, [name])
        for name in outs:
            yield _with_outputs(graph, feeds, [o for o in outs if o != name])
    produced = [v.name for n in graph.nodes() for v in graph.node_outputs(n) if v is not None]
    for name in produced:  # cut everything downstream of a value
        if name not in outs:
            yield _with_outputs(graph, feeds, [name])
    for node in graph.nodes():  # cut everything upstream of an op's outputs
        names = [v.name for v in graph.node_outputs(node) if v is not None]
        if all(isinstance(ref.run.values.get(n), np.ndarray) for n in names):
            yield _cut(graph, feeds, names, ref, as_input=True)
            yield _cut(graph, feeds, names, ref, as_input=False)


def _tidy(g: Graph, feeds: Feeds) -> tuple[Graph, Feeds]:
    eliminate_dead_code(g)
    used = [v for v in g.inputs if g.is_used(v) or v.name in g.outer_names()]
    g.set_inputs(used)
    return g, {v.name: feeds[v.name] for v in used if v.name in feeds}


def _with_outputs(graph: Graph, feeds: Feeds, names: list[str]) -> tuple[Graph, Feeds]:
    g = copy_graph(graph)
    g.set_outputs([g.value(n) for n in names])
    return _tidy(g, feeds)


def _cut(graph: Graph, feeds: Feeds, names: list[str], ref: Reference, as_input: bool) -> tuple[Graph, Feeds]:
    """The op producing ``names`` replaced by graph inputs (or constants) holding its results."""
    g = copy_graph(graph)
    feeds = dict(feeds)
    node = g.producer(g.value(names[0]))
    assert node is not None
    for name in names:
        old, data = g.value(name), ref.run.values[name]
        if as_input:
            new = g.add_input(f"{name}_cut", DType.from_numpy(data.dtype), data.shape)
            feeds[new.name] = data
        else:
            new = g.add_constant(f"{name}_cut", data)
        g.replace_all_uses(old, new)
    g.remove(node, force=True)
    for name in names:
        new = g.value(f"{name}_cut")
        if as_input:
            feeds[name] = feeds.pop(new.name)
        g.rename(new, name)
    return _tidy(g, feeds)
