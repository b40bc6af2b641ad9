"""IR -> ``torch.nn.Module``: the weights become a hierarchy of real parameters and
buffers named after the source weights, and ``forward`` runs the graph's ops through the
registered emitters. The module trains (gradients reach every parameter), runs eagerly,
exports with ``torch.export`` and traces with ``torch.fx`` (see :mod:`.codegen` for the
generated source)."""

from __future__ import annotations

import functools
from typing import Any

import torch

import tensorbridge.converters.pytorch.from_ir.ops  # noqa: F401  (registers the emitters)
from tensorbridge.converters.emitting import (
    Interpreter,
    Planner,
    has_framework_roles,
    is_setting,
    weight_kind,
    weight_names,
)
from tensorbridge.converters.identifiers import identifiers
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import Host, T, host_constant, tracing
from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS
from tensorbridge.converters.pytorch.from_ir.weights import CONSTANT_ROOTS, WeightTable
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Role, Value
from tensorbridge.ir.types import TensorType

LAYER = "PyTorch emitter"


class IRModule(torch.nn.Module):
    """A PyTorch module computing an IR graph. ``forward`` takes the graph's required inputs
    in order (inputs with a default value -- IR < 4 initializers listed as inputs -- are
    optional keyword arguments, see ``input_defaults``) and returns one tensor, or a tuple
    when the graph has several outputs. It keeps the
    source's trainable structure: one parameter per source tensor (tied names are the same
    ``nn.Parameter``), frozen parameters with ``requires_grad=False``, buffers as buffers."""

    # submodules holding the emitter's own constants (not weights of the source)
    constant_roots = CONSTANT_ROOTS[:1]

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        table = WeightTable(self)
        roles = has_framework_roles(graph)

        def classify(g: Graph, v: Value) -> tuple[str, Any]:
            dtype = torch_dtype(v.dtype) if v.dtype is not None else torch.float32
            if v.role is Role.CONSTANT and not v.source_name:
                host = host_constant(v.const_array(), dtype, setting=is_setting(g, v))
                if host is not None:
                    return "host", host
            return "weight", table.add(v, kind=weight_kind(g, v, roles), names=weight_names(g, v),
                                       persistent=g.weight_of(v).persistent)

        planner = Planner(EMITTERS, classify)
        self._plan = planner.build(graph, "IR -> PyTorch")
        self._interp = Interpreter(planner, LAYER, self._fetch, _describe)
        table.warn_frozen()
        self.input_names = list(self._plan.inputs)
        self.output_names = list(self._plan.outputs)
        self.input_types = [v.shape for v in graph.required_inputs]
        # keyword argument of forward() -> the defaulted graph input it replaces
        self.input_defaults = dict(zip(identifiers(self._plan.defaults, taken=input_identifiers(graph)),
                                       self._plan.defaults, strict=True))
        self.graph = graph
        self.frozen_weights = list(table.frozen)  # trainable in the source, not a float here
        self.weight_aliases = dict(table.aliases)  # a tied weight's other path -> its path

    def _static_results(self) -> dict[str, Any] | None:
        """Results of the weight-only steps (re-laid-out RNN weights, folded transposes...),
        computed once per weight version for inference (no autograd, no tracing); None
        when they must be recomputed in the call (training, export)."""
        plan = self._plan
        if not plan.n_static or torch.is_grad_enabled() or tracing():
            return None
        tensors = [*self.parameters(), *self.buffers()]
        if any(type(t) not in (torch.Tensor, torch.nn.Parameter) for t in tensors):
            return None  # fake / functional tensors of a trace
        key = tuple((id(t), t._version) for t in tensors)
        cached = self.__dict__.get("_static_cache")
        if cached is None or cached[0] != key:
            cached = (key, self._interp.run_static(plan))
            self.__dict__["_static_cache"] = cached  # not a module attribute: not state
        return cached[1]

    def _fetch(self, path: str) -> Any:
        return functools.reduce(getattr, path.split("."), self)

    def forward(self, *args: Any, **defaults: Any) -> Any:  # module_class(): named inputs
        return self._forward(*args, **defaults)

    def _forward(self, *args: Any, **defaults: Any) -> Any:
        plan = self._plan
        if len(args) != len(plan.inputs):
            raise TypeError(f"expected {len(plan.inputs)} input(s) ({', '.join(plan.inputs)}), "
                            f"got {len(args)}")
        env = dict(zip(plan.inputs, args, strict=True))
        fed = self._fed_defaults(defaults)
        env.update(fed)
        env = self._interp.run(plan, env, None if fed else self._static_results())
        outs = [_finish(env[n], plan.graph.value(n).type) for n in plan.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _fed_defaults(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """The defaulted graph inputs fed by keyword (a None keyword: not fed), by IR name."""
        unknown = sorted(set(defaults) - set(self.input_defaults))
        if unknown:
            some = ", ".join(list(self.input_defaults)[:5]) or "none"
            raise TypeError(f"unknown keyword argument(s) {', '.join(unknown)}; the inputs with a "
                            f"default value are: {some}{', ...' if len(self.input_defaults) > 5 else ''}")
        return {self.input_defaults[k]: x for k, x in defaults.items() if x is not None}


def input_identifiers(graph: Graph) -> tuple[str, ...]:
    """The parameter names of ``forward`` for the graph's required inputs."""
    return tuple(identifiers([v.name for v in graph.required_inputs]))


def module_class(graph: Graph) -> type[IRModule]:
    """An IRModule subclass whose ``forward(x, attention_mask, *, w=None)`` names each
    required graph input, and each input with a default as an optional keyword (instead of
    ``*args``), so torch.fx traces it and readers see the inputs."""
    params = input_identifiers(graph)
    keywords = identifiers([v.name for v in graph.defaulted_inputs], taken=params)
    signature = ", ".join([*params, *(["*"] if keywords else []), *(f"{k}=None" for k in keywords)])
    passed = ", ".join([*params, *(f"{k}={k}" for k in keywords)])
    scope: dict[str, Any] = {}
    # identifiers checked above
    exec(f"def forward(self, {signature}):\n    return self._forward({passed})\n", scope)  # noqa: S102
    return type("GeneratedModule", (IRModule,), {"forward": scope["forward"], "__module__": __name__})


def _finish(v: Any, vtype: Any) -> Any:
    if isinstance(v, Host):
        dtype = torch_dtype(vtype.dtype) if isinstance(vtype, TensorType) and vtype.dtype else None
        return T(v, dtype)
    return v


def _describe(a: Any) -> str:
    if a is None:
        return "None"
    if isinstance(a, Host):
        return f"host {a.value!r}"
    if isinstance(a, torch.Tensor):
        return f"{a.dtype}{list(a.shape)}"
    return type(a).__name__
