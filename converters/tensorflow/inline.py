"""Inline the function calls that freezing leaves in a GraphDef.

``convert_variables_to_constants_v2`` inlines ordinary calls, but keeps those it must not
touch, e.g. Keras' ``jit_compile`` helpers (grouped convolutions on CPU, as in ConvNeXt):
a ``StatefulPartitionedCall`` with ``_XlaMustCompile``. For conversion the call boundary
means nothing, so each call node is replaced by its body, renamed under the call's name.
Functional control flow (While/If bodies) stays in the library.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

from tensorbridge.ir.errors import TensorbridgeError

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
MAX_DEPTH = 32


def inline_calls(graph_def: Any) -> Any:
    """A copy of ``graph_def`` with every PartitionedCall/StatefulPartitionedCall (and
    direct call of a library function) replaced by the function's body, recursively."""
    for _ in range(MAX_DEPTH):
        funcs = {f.signature.name: f for f in graph_def.library.function}
        if not any(_callee(n, funcs) for n in graph_def.node):
            return graph_def
        graph_def = _inline_once(graph_def, funcs)
    raise TensorbridgeError(f"function calls nested deeper than {MAX_DEPTH} levels could not be inlined")


def _callee(node: Any, funcs: dict[str, Any]) -> str | None:
    if node.op in CALL_OPS:
        return str(node.attr["f"].func.name)
    return node.op if node.op in funcs else None


def _inline_once(graph_def: Any, funcs: dict[str, Any]) -> Any:
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    renames: dict[str, str] = {}
    with tf.Graph().as_default():
        tf.graph_util.import_graph_def(graph_pb2.GraphDef(library=graph_def.library), name="")
        for node in graph_def.node:
            fname = _callee(node, funcs)
            if fname is None:
                out.node.add().CopyFrom(node)
            else:
                renames.update(_inline_call(out, node, funcs[fname]))
    for node in out.node:
        inputs = [_renamed(i, renames) for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
    return out


def _inline_call(out: Any, call: Any, fdef: Any) -> dict[str, str]:
    """Append the body of ``fdef`` for ``call`` to ``out``; return the renames of the call's
    outputs ("call:i" -> "call/body_node:k")."""
    body, flat = function_def_to_graph_def(fdef)
    prefix = call.name + "/"
    args = [i for i in call.input if not i.startswith("^")]
    arg_index = {a.name: k for k, a in enumerate(fdef.signature.input_arg)}
    for b in body.node:
        nb = out.node.add()
        nb.CopyFrom(b)
        nb.name = prefix + b.name
        if b.op == "Placeholder" and b.name in arg_index:
            # the argument becomes an Identity of what the caller passed in
            nb.op = "Identity"
            nb.ClearField("attr")
            nb.attr["T"].type = b.attr["dtype"].type
            del nb.input[:]
            nb.input.append(args[arg_index[b.name]])
            continue
        inputs = [("^" + prefix + i[1:]) if i.startswith("^") else prefix + i for i in b.input]
        del nb.input[:]
        nb.input.extend(inputs)
    marker = out.node.add()  # keeps "^call" control inputs resolvable
    marker.name, marker.op = call.name, "NoOp"
    renames = {}
    for k, oarg in enumerate(fdef.signature.output_arg):
        renames[f"{call.name}:{k}"] = prefix + flat[fdef.ret[oarg.name]]
    return renames


def _renamed(name: str, renames: dict[str, str]) -> str:
    if name.startswith("^"):
        return name
    key = name if ":" in name else name + ":0"
    return renames.get(key, name)
