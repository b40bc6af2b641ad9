"""IR -> ``tf.Module``: weights become ``tf.Variable``s named after the source weights
(trainable where the source's were; one variable per source tensor, so tied weights stay
one variable, found under their other names in ``weight_aliases``), and ``__call__`` is a
``tf.function`` with the graph's input signature (symbolic dims as ``None``) that runs the
graph's ops through the registered emitters. Savable with ``tf.saved_model.save`` and
reloadable."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import tensorflow as tf

import tensorbridge.converters.tensorflow.from_ir.ops  # noqa: F401  (registers the emitters)
from tensorbridge.converters.emitting import (
    Interpreter,
    Planner,
    has_framework_roles,
    weight_kind,
    weight_names,
)
from tensorbridge.converters.identifiers import identifiers
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Value
from tensorbridge.ir.types import TensorType

LAYER = "TensorFlow emitter"


def variable_name(name: str) -> str:
    """The variable name a source weight name becomes: a ``:0`` suffix dropped, characters
    other than letters, digits and ``_ . - /`` as ``_``, and a ``w`` in front when the name
    does not start with a letter, digit or ``.``. Names that then collide get ``_1``, ``_2``."""
    name = re.sub(r":\d+$", "", name)
    name = re.sub(r"[^A-Za-z0-9_.\-/]", "_", name)
    return name if re.match(r"[A-Za-z0-9.]", name) else "w" + name


def module_name(name: str) -> str:
    """A valid ``tf.Module`` name (a Python identifier) for a graph name: other characters
    as ``_``, and ``graph_`` in front of one that starts with a digit (a hex id)."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "model"
    return ident if ident.isidentifier() else f"graph_{ident}"


class IRTFModule(tf.Module):
    """A TensorFlow module computing an IR graph. Call it with the graph's required inputs in
    order (inputs with a default value -- IR < 4 initializers listed as inputs -- may be given
    as keyword arguments, see ``input_defaults``); it returns one tensor, or a tuple when the
    graph has several outputs. ``serve`` is the traced signature of the required inputs."""

    def __init__(self, graph: Graph, name: str | None = None) -> None:
        super().__init__(name=module_name(name or graph.name or "model"))
        roles = has_framework_roles(graph)
        # one variable per source weight, by its name; a tied weight's other names lead to the
        # same variable; the source's named constants (not weights) apart. All three are
        # variables, so a SavedModel restores them (plain strings it would drop).
        self.weights: dict[str, tf.Variable] = {}
        self.weight_aliases: dict[str, tf.Variable] = {}
        self.constants: dict[str, tf.Variable] = {}
        self.frozen_weights: list[str] = []  # trainable in the source, not a float here
        # weights of the source that the graph does not read (kept so the model carries them all)
        self.unused_weights: list[str] = []

        def classify(g: Graph, v: Value) -> tuple[str, Any]:
            data = v.const_array()
            kind = weight_kind(g, v, roles)
            if kind == "constant" and not v.source_name:
                return "host", tf.constant(data, dtype=tf_dtype(v.dtype) if v.dtype else None)
            names = weight_names(g, v)
            key = self._unique(variable_name(names[0]))
            trainable = kind == "parameter"
            if trainable and not np.issubdtype(data.dtype, np.floating):
                self.frozen_weights.append(key)
                trainable = False
            var = tf.Variable(data, name=key, trainable=trainable)
            (self.constants if kind == "constant" else self.weights)[key] = var
            for alias in names[1:]:
                self.weight_aliases[self._unique(variable_name(alias))] = var
            if not g.is_used(v) and kind != "constant":
                self.unused_weights.append(key)
            return "weight", key

        planner = Planner(EMITTERS, classify)
        self._plan = planner.build(graph, "IR -> TensorFlow")
        self._interp = Interpreter(planner, LAYER, self._variable, _describe)
        if self.frozen_weights:
            warnings.warn(f"{len(self.frozen_weights)} weight(s) trainable in the source are not "
                          f"floating point and stay non-trainable variables in TensorFlow: "
                          f"{', '.join(self.frozen_weights[:10])}", stacklevel=2)
        self.input_names = list(self._plan.inputs)
        self.output_names = list(self._plan.outputs)
        self.graph = graph
        signature = [tf.TensorSpec(_spec_shape(v.type), tf_dtype(v.dtype) if v.dtype else tf.float32,
                                   name=variable_name(v.name).replace("/", "_").replace(".", "_"))
                     for v in graph.required_inputs]
        # the traced, savable entry point (a SavedModel's serving signature)
        self.serve = tf.function(self._call, input_signature=signature, autograph=False)
        # keyword argument of __call__ -> the defaulted graph input it replaces: those the
        # channels-last rewrite left read (one it folded away is no longer an input)
        fed = [n for n in self._plan.defaults if graph.is_used(graph.value(n))]
        self.input_defaults = dict(zip(identifiers(fed, taken=tuple(identifiers(self._plan.inputs))),
                                       fed, strict=True))

    def __call__(self, *args: Any, **defaults: Any) -> Any:
        """The required inputs in order; defaulted ones by keyword (run eagerly, not traced)."""
        fed = self._fed_defaults(defaults)
        if not fed:
            return self.serve(*args)
        plan = self._plan
        if len(args) != len(plan.inputs):
            raise TypeError(f"expected {len(plan.inputs)} input(s) ({', '.join(plan.inputs)}), "
                            f"got {len(args)}")
        env = self._interp.run(plan, {**dict(zip(plan.inputs, args, strict=True)), **fed})
        outs = [env[n] for n in plan.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _fed_defaults(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """The defaulted graph inputs fed by keyword (a None keyword: not fed), by IR name."""
        unknown = sorted(set(defaults) - set(self.input_defaults))
        if unknown:
            some = ", ".join(list(self.input_defaults)[:5]) or "none"
            raise TypeError(f"unknown keyword argument(s) {', '.join(unknown)}; the inputs with a "
                            f"default value are: {some}{', ...' if len(self.input_defaults) > 5 else ''}")
        return {self.input_defaults[k]: tf.convert_to_tensor(x) for k, x in defaults.items() if x is not None}

    def _unique(self, key: str) -> str:
        base, i = key, 1
        while key in self.weights or key in self.weight_aliases or key in self.constants:
            key, i = f"{base}_{i}", i + 1
        return key

    def _variable(self, key: str) -> tf.Variable:
        return self.weights[key] if key in self.weights else self.constants[key]

    def _call(self, *args: Any) -> Any:
        plan = self._plan
        env = self._interp.run(plan, dict(zip(plan.inputs, args, strict=True)))
        outs = [env[n] for n in plan.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def _spec_shape(vtype: Any) -> list[int | None] | None:
    if not isinstance(vtype, TensorType) or vtype.shape is None:
        return None
    return [d if isinstance(d, int) else None for d in vtype.shape]


def _describe(a: Any) -> str:
    if a is None:
        return "None"
    shape = getattr(a, "shape", None)
    if shape is None:
        return type(a).__name__
    rank = getattr(shape, "rank", len(shape))
    return f"{getattr(a, 'dtype', '')}{shape.as_list() if hasattr(shape, 'as_list') and rank is not None else '[?]'}"
