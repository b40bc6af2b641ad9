"""What the PyTorch and TensorFlow emitters share: turning an IR graph into a plan of
emitter calls (resolved once, all unsupported ops reported together) and running that plan
on framework values. The framework side supplies the registry, how each initializer is
held (a host value or a weight fetched from the module) and how outputs are finished."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.ir.errors import (
    ConversionError,
    KernelError,
    TensorbridgeError,
    UnsupportedOpError,
)
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Role, Value
from tensorbridge.ir.op_registry import OpRegistry
from tensorbridge.ir.types import TensorType, ValueType


@dataclass(frozen=True)
class EmitContext:
    """What an emitter may learn about the node it emits (declare a keyword-only ``ctx``)."""

    node_name: str
    n_outputs: int
    opset: int
    input_types: tuple[ValueType | None, ...] = ()
    output_types: tuple[ValueType | None, ...] = ()
    # run_subgraph(graph, inputs) -> outputs, with the enclosing scope's values bound
    run_subgraph: Callable[[Any, Sequence[Any]], list[Any]] | None = None

    def rank(self, i: int) -> int | None:
        t = self.input_types[i] if i < len(self.input_types) else None
        return len(t.shape) if isinstance(t, TensorType) and t.shape is not None else None

    def input_shape(self, i: int) -> tuple[Any, ...] | None:
        t = self.input_types[i] if i < len(self.input_types) else None
        return t.shape if isinstance(t, TensorType) else None

    def output_type(self, i: int = 0) -> TensorType | None:
        t = self.output_types[i] if i < len(self.output_types) else None
        return t if isinstance(t, TensorType) else None


@dataclass
class Step:
    node: Node
    fn: Callable[..., Any]
    inputs: tuple[str, ...]  # "" for a missing optional input
    attrs: dict[str, Any]
    outputs: tuple[str, ...]
    ctx: EmitContext | None
    uses: tuple[str, ...] = ()  # inputs plus outer-scope values its subgraphs read
    scoped: bool = False  # has subgraphs: its ctx gets run_subgraph bound to the scope
    drop: tuple[str, ...] = ()  # values dead after this step


@dataclass
class Plan:
    graph: Graph
    inputs: list[str]  # the inputs a call feeds, in order (graph inputs without a default)
    outputs: list[str]
    # graph inputs with a default (an initializer, IR < 4): held like any initializer, and
    # replaced for one call when the caller feeds them by name
    defaults: list[str] = field(default_factory=list)
    hosts: dict[str, Any] = field(default_factory=dict)  # value name -> host value
    weights: dict[str, str] = field(default_factory=dict)  # value name -> weight key
    steps: list[Step] = field(default_factory=list)
    # steps[:n_static] read only weights and constants: a framework may compute them once
    # while the weights do not change (inference); ``static_live`` are their results that
    # the other steps read
    n_static: int = 0
    static_live: tuple[str, ...] = ()


# classify(graph, value) -> ("host", value) or ("weight", key)
Classify = Callable[[Graph, Value], tuple[str, Any]]


class Planner:
    """Builds the plans of a graph and its subgraphs (keyed by ``id(subgraph)``)."""

    def __init__(self, registry: OpRegistry, classify: Classify) -> None:
        self.registry = registry
        self.classify = classify
        self.plans: dict[int, Plan] = {}
        self._problems: list[TensorbridgeError] = []

    def build(self, graph: Graph, what: str) -> Plan:
        plan = self._build(graph)
        if self._problems:
            raise ConversionError(what, self._problems)
        return plan

    def _build(self, graph: Graph) -> Plan:
        plan = Plan(graph, [v.name for v in graph.required_inputs], [v.name for v in graph.outputs],
                    [v.name for v in graph.defaulted_inputs])
        for v in graph.initializers():
            kind, held = self.classify(graph, v)
            (plan.hosts if kind == "host" else plan.weights)[v.name] = held
        for node in graph.nodes():
            try:
                plan.steps.append(self._step(graph, node))
            except UnsupportedOpError as e:
                self._problems.append(e)
        _hoist_static(plan)
        _mark_last_uses(plan)
        self.plans[id(graph)] = plan
        return plan

    def _step(self, graph: Graph, node: Node) -> Step:
        opset = graph.opset(node.domain)
        where = f"{node.name} [{node.provenance}]" if str(node.provenance) else node.name
        spec = self.registry.lookup(node.op_type, node.domain, opset, where=where)
        unknown = sorted(set(node.attrs) - spec.attr_names)
        if unknown:
            raise UnsupportedOpError(self.registry.layer, node.op_type, node=where,
                                     hint=f"attribute(s) {', '.join(unknown)} not supported by this emitter")
        for sub in node.subgraphs():
            self._build(sub)
        ins = tuple(v.name if v is not None else "" for v in graph.node_inputs(node))
        outs = tuple(v.name if v is not None else "" for v in graph.node_outputs(node))
        ctx = None
        if spec.wants_ctx:
            ctx = EmitContext(
                node.name, len(outs), opset,
                tuple(v.type if v is not None else None for v in graph.node_inputs(node)),
                tuple(v.type if v is not None else None for v in graph.node_outputs(node)))
        outer = tuple(sorted({n for sub in node.subgraphs() for n in sub.outer_names()}))
        attrs = {name: attr.value for name, attr in node.attrs.items()}
        return Step(node, spec.fn, ins, attrs, outs, ctx, uses=ins + outer, scoped=bool(node.subgraphs()))


# ops whose result changes from call to call even on the same inputs
_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                               "Bernoulli", "Multinomial", "Dropout"})


def _hoist_static(plan: Plan) -> None:
    """Move the steps that depend on weights and constants only to the front (still in
    dependency order) and record which of their results the rest of the plan reads."""
    known = set(plan.hosts) | set(plan.weights)
    static, dynamic = [], []
    for step in plan.steps:
        if (not step.scoped and step.node.op_type not in _NONDETERMINISTIC
                and all(not n or n in known for n in step.uses)):
            static.append(step)
            known.update(n for n in step.outputs if n)
        else:
            dynamic.append(step)
    made = {n for s in static for n in s.outputs if n}
    read = {n for s in dynamic for n in s.uses} | set(plan.outputs)
    plan.steps = static + dynamic
    plan.n_static = len(static)
    plan.static_live = tuple(sorted(made & read))


def _mark_last_uses(plan: Plan) -> None:
    keep = set(plan.outputs)
    seen: set[str] = set()
    for step in reversed(plan.steps):
        step.drop = tuple(n for n in dict.fromkeys(step.uses) if n and n not in seen and n not in keep)
        seen.update(n for n in step.uses if n)


class Interpreter:
    """Runs plans on framework values. ``fetch(key)`` gives a weight; ``describe(v)`` a
    short description of a value for error messages."""

    def __init__(self, planner: Planner, layer: str, fetch: Callable[[str], Any],
                 describe: Callable[[Any], str]) -> None:
        self.plans = planner.plans
        self.layer = layer
        self.fetch = fetch
        self.describe = describe

    def run(self, plan: Plan, env: dict[str, Any], static: dict[str, Any] | None = None, *,
            keep: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Runs ``plan`` with ``env`` holding its inputs (and outer scope); returns ``env``
        holding (at least) the plan's outputs and the values named in ``keep`` (a parity
        check's captures). ``static``: the results of the plan's static steps from an
        earlier run with the same weights (they are then skipped). A defaulted input
        already in ``env`` (fed by name) is kept instead of its initializer."""
        for name, held in plan.hosts.items():
            env.setdefault(name, held)
        for name, key in plan.weights.items():
            if name not in env:
                env[name] = self.fetch(key)
        if static is not None:
            env.update(static)
        return self.run_steps(plan.steps[plan.n_static:] if static is not None else plan.steps, env,
                              keep=keep)

    def run_static(self, plan: Plan) -> dict[str, Any]:
        """The results of the plan's static steps that the other steps read."""
        env: dict[str, Any] = dict(plan.hosts)
        for name, key in plan.weights.items():
            env[name] = self.fetch(key)
        self.run_steps(plan.steps[:plan.n_static], env, drop=False)
        return {n: env[n] for n in plan.static_live}

    def run_steps(self, steps: Sequence[Step], env: dict[str, Any], *, drop: bool = True,
                  keep: frozenset[str] = frozenset()) -> dict[str, Any]:
        for step in steps:
            args = [env[n] if n else None for n in step.inputs]
            kwargs = step.attrs
            if step.ctx is not None:
                kwargs = {**kwargs, "ctx": self._with_scope(step.ctx, env) if step.scoped else step.ctx}
            try:
                res = step.fn(*args, **kwargs)
            except TensorbridgeError:
                raise
            except Exception as e:
                raise KernelError(step.node.name, step.node.op_type,
                                  f"{type(e).__name__}: {e} (inputs: "
                                  f"{', '.join(self.describe(a) for a in args)})",
                                  str(step.node.provenance), layer=self.layer) from e
            if len(step.outputs) == 1:
                env[step.outputs[0]] = res
            else:
                for name, r in zip(step.outputs, res, strict=False):
                    if name:
                        env[name] = r
            if drop:
                for name in step.drop:
                    if name not in keep:
                        env.pop(name, None)
        return env

    def _with_scope(self, ctx: EmitContext, env: dict[str, Any]) -> EmitContext:
        def run_subgraph(sub: Graph, inputs: Sequence[Any]) -> list[Any]:
            plan = self.plans[id(sub)]
            scope = dict(env)
            scope.update(zip(plan.inputs, inputs, strict=True))
            out = self.run(plan, scope)
            return [out[n] for n in plan.outputs]

        return EmitContext(ctx.node_name, ctx.n_outputs, ctx.opset, ctx.input_types,
                           ctx.output_types, run_subgraph)


# Inputs (by their schema names) that configure an op rather than carry data or weights.
_SETTINGS = frozenset({"roi", "scales", "sizes", "shape", "axes", "pads", "repeats", "starts", "ends",
                       "steps", "split", "K", "constant_value", "min", "max", "depth", "delta", "limit",
                       "start", "sequence_lens", "output_shape"})


def is_setting(graph: Graph, value: Value) -> bool:
    """Every use of ``value`` is a settings input (Resize scales, Pad pads, Clip min...)."""
    from tensorbridge.ir import schemas

    uses = graph.consumers(value)
    for node, port in uses:
        schema = schemas.get_schema(node.op_type, node.domain, graph.opset(node.domain))
        if schema is None or not schema.inputs:
            return False
        formal = schema.inputs[min(port, len(schema.inputs) - 1)]
        if formal.name not in _SETTINGS:
            return False
    return bool(uses)


def is_trainable(graph: Graph, value: Value, framework_roles: bool) -> bool:
    """Parameters are trainable unless the source froze them (``Graph.weight_info``:
    requires_grad=False, a frozen Keras layer). An ONNX file has no such notion: there every
    float initializer with more than one element is taken as a weight, unless it only
    configures ops (Resize scales, Clip bounds)."""
    if value.role is Role.PARAMETER:
        return graph.weight_of(value).trainable
    if framework_roles or value.role is not Role.CONSTANT or is_setting(graph, value):
        return False
    c = value.const
    size = int(np.prod(c.shape)) if c is not None else 0
    return value.dtype is not None and value.dtype.is_float and size > 1


def weight_kind(graph: Graph, value: Value, framework_roles: bool) -> str:
    """How an emitter holds an initializer: "parameter" (trains), "frozen" (a parameter
    that does not train), "buffer" (state: running statistics, masks) or "constant"."""
    if value.role is Role.PARAMETER:
        return "parameter" if graph.weight_of(value).trainable else "frozen"
    if value.role is Role.BUFFER:
        return "buffer"
    return "parameter" if is_trainable(graph, value, framework_roles) else "constant"


def name_weights(graph: Graph) -> None:
    """Give each initializer an emitter makes a parameter of, but that came with no source
    name (an ONNX graph's weights), its own name as source name: a pass that re-lays it
    out (TensorFlow's channels-last kernels) then keeps it as that named weight instead of
    folding it into an anonymous constant."""
    roles = has_framework_roles(graph)
    for v in graph.initializers():
        if not v.source_name and weight_kind(graph, v, roles) == "parameter":
            v.source_name = v.name


def weight_names(graph: Graph, value: Value) -> tuple[str, ...]:
    """Every source name of an initializer: its own, then those of the weights tied to it."""
    return (value.source_name or value.name, *graph.weight_of(value).aliases)


def has_framework_roles(graph: Graph) -> bool:
    return any(v.role in (Role.PARAMETER, Role.BUFFER) for v in graph.initializers())
