"""Capture a TensorFlow/Keras model as one frozen, call-free GraphDef.

Accepts a Keras 3 model (Sequential, functional, subclassed), a ``.keras`` file, a
``tf.function`` (with an input signature, or example inputs), a ConcreteFunction, or a
SavedModel directory (its ``serving_default`` signature). The concrete function is frozen
with ``convert_variables_to_constants_v2`` (control flow kept functional), every remaining
``PartitionedCall``/``StatefulPartitionedCall`` is inlined, and each frozen variable is
mapped back to its Keras weight path. ``None`` dims of the input signature become named
symbolic dims: ``batch`` for dim 0, ``<input>_dim<i>`` otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.dtypes import to_dtype
from tensorbridge.converters.tensorflow.inline import inline_calls
from tensorbridge.converters.tensorflow.shapes import symbolic_shapes
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError


class CaptureError(TensorbridgeError):
    """The model could not be traced into a concrete TensorFlow function."""


@dataclass
class InputSpec:
    name: str  # the Placeholder's node name
    dtype: DType
    shape: tuple[int | str, ...] | None  # None dims already named


@dataclass
class Weight:
    path: str  # Keras weight path ("dense_1/kernel") or tf.Variable name; unique in the model
    trainable: bool  # trains now (Keras ``trainable``, after freezing its layer)
    # a weight that trains when its layer is trainable: frozen (``trainable=False`` on the
    # layer), not state such as BatchNormalization's moving mean (False)
    parameter: bool = True


@dataclass
class Captured:
    """Everything the IR driver needs, with TensorFlow's own objects kept for shapes."""

    name: str
    graph_def: Any  # GraphDef: frozen, calls inlined
    tf_graph: tf.Graph  # holds every node of graph_def by name: output dtypes and static shapes
    inputs: list[InputSpec]
    outputs: list[tuple[str, str]]  # (output name, TF tensor name "node:index")
    weights: dict[str, Weight] = field(default_factory=dict)  # Const node name -> weight
    scopes: dict[str, str] = field(default_factory=dict)  # TF name scope -> Keras layer path
    symbolic: dict[str, Any] = field(default_factory=dict)  # tensor name -> shape with named dims
    # the Keras model's weights the function never reads (e.g. Normalization's adapted
    # statistics, snapshotted as constants): a migration still carries them
    unread: list[tuple[Weight, np.ndarray]] = field(default_factory=list)


def capture(source: Any, example_inputs: Any = None) -> Captured:
    import keras

    owner, func, name, scopes = _concrete_function(source, example_inputs)
    model = owner if isinstance(owner, keras.Model | keras.layers.Layer) else None
    listed = model_weights(func, model)
    weights_by_handle = {id(handle): w for _, handle, w in listed}
    graph_def = inline_calls(_freeze(func))
    weights = {}
    read: set[int] = set()
    for ext, internal in func.graph.captures:
        w = weights_by_handle.get(id(ext))
        if w is not None:
            weights[internal.op.name] = w
            read.add(id(ext))
    unread = [(w, np.asarray(var.numpy())) for var, handle, w in listed if id(handle) not in read]
    captured = {internal.name for _, internal in func.graph.captures}
    inputs = [_input_spec(t) for t in func.inputs if t.name not in captured]
    outputs = _outputs(func.structured_outputs, func.outputs)
    return Captured(name, graph_def, _shape_graph(func.graph, graph_def), inputs, outputs, weights, scopes,
                    symbolic_shapes(graph_def, inputs), unread)


# ---------------------------------------------------------------- sources
def _concrete_function(source: Any, example_inputs: Any) -> tuple[Any, Any, str, dict[str, str]]:
    """(the object owning the variables, ConcreteFunction, model name, name-scope map).
    The owner must stay referenced until the function is frozen: a loaded SavedModel's
    variables die with it."""
    import keras

    path_name = Path(source).resolve().name if isinstance(source, str | os.PathLike) else ""
    source = load_source(source)
    if isinstance(source, keras.Model | keras.layers.Layer):
        specs = _keras_specs(source, example_inputs)
        with recording_layer_scopes() as scopes:
            cf = _traced(lambda: tf.function(_keras_call(source)).get_concrete_function(*specs), source.name)
        return source, cf, source.name, scopes
    if isinstance(source, tf.types.experimental.ConcreteFunction):
        return None, source, _fn_name(source), {}
    if isinstance(source, tf.types.experimental.PolymorphicFunction):
        with recording_layer_scopes() as scopes:
            cf = _traced(lambda: _trace_function(source, example_inputs), _fn_name(source))
        return None, cf, _fn_name(source), scopes
    signatures = getattr(source, "signatures", None)
    if signatures is not None:  # a loaded SavedModel object
        return source, serving_signature(signatures, "the loaded object"), path_name or "saved_model", {}
    raise CaptureError(
        f"cannot capture a {type(source).__module__}.{type(source).__name__}: pass a Keras model, "
        "a .keras file, a tf.function (with input_signature or example inputs), a "
        "ConcreteFunction, or a SavedModel directory")


def _traced(trace: Any, what: str) -> Any:
    try:
        return trace()
    except TensorbridgeError:
        raise
    except Exception as e:  # Keras and TF raise many unrelated types while tracing
        raise CaptureError(f"TensorFlow could not trace {what!r}: {_short(e)}. The model must run "
                           "in graph mode on symbolic inputs of the signature's shapes (no .numpy() "
                           "calls, no Python branching on tensor values)") from e


def load_source(source: Any) -> Any:
    """``source`` with a path loaded (a .keras file -> Keras model, a SavedModel directory
    -> the loaded object, whose ``signatures`` hold the serving function); other objects
    are returned as they are."""
    if isinstance(source, str | os.PathLike):
        return _load_path(Path(source))
    return source


def _load_path(path: Path) -> Any:
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ModelLoadError(str(path), "not a SavedModel directory (no saved_model.pb)",
                                 "Pass the folder written by tf.saved_model.save or model.export")
        check_savedmodel(path)
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as e:  # TF raises many unrelated types here
            raise ModelLoadError(str(path), f"unreadable SavedModel ({_short(e)})",
                                 "Re-save it with tf.saved_model.save") from e
        serving_signature(loaded.signatures, str(path))  # fail early, with the path
        return loaded  # not just the signature: the loaded object owns the variables
    if not path.is_file():
        raise ModelLoadError(str(path), "no such file or directory", "Check the path")
    with open(path, "rb") as f:
        hdf5 = f.read(8) == _HDF5_MAGIC
    if hdf5:
        return _load_h5(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise ModelLoadError(str(path), "is not an HDF5 file (empty, truncated or another format)",
                             "Save the Keras model again with model.save('model.keras')")
    if path.suffix.lower() != ".keras":
        raise ModelLoadError(str(path), f"unknown TensorFlow model file type {path.suffix!r}",
                             "Pass a .keras or .h5 file or a SavedModel directory")
    check_keras_archive(path)
    return _keras_load(path, str(path), "a .keras archive")


def _keras_load(path: Path, keras_path: str, what: str) -> Any:
    import keras

    try:
        with _forced_safe_mode():
            return keras.saving.load_model(keras_path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many unrelated types here
        raise ModelLoadError(str(path), f"not a readable {what} ({_short(e)})",
                             "Re-save the model with model.save('model.keras'); custom layers "
                             "must be registered (keras.saving.register_keras_serializable)") from e


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _load_h5(path: Path) -> Any:
    """A Keras HDF5 model (``model.save('m.h5')``), read by Keras' own legacy loader in safe
    mode after its config has been checked like a .keras archive's."""
    check_keras_h5(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _keras_load(path, str(path), "Keras HDF5 model")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tensorbridge-h5-") as tmp:  # Keras picks the format by name
        alias = Path(tmp) / "model.h5"
        alias.symlink_to(path.resolve())
        return _keras_load(path, str(alias), "Keras HDF5 model")


def check_keras_h5(path: Path) -> None:
    """Refuse an HDF5 file that is not a whole Keras model (weights only), or whose
    ``model_config`` holds Python bytecode or names modules outside Keras."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except (OSError, ValueError) as e:
        raise ModelLoadError(str(path), f"not a readable HDF5 file ({_short(e)})",
                             "The file is truncated or corrupt; save it again") from e
    if raw is None:
        raise ModelLoadError(str(path), "is an HDF5 file without a model config (weights only, "
                             "from model.save_weights)", "Build the model in Keras, call "
                             "model.load_weights(path), and pass the model; or save it with "
                             "model.save('model.keras')")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        if len(text) > 1 << 28:
            raise ValueError(f"model_config is {len(text)} characters")
        config = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(str(path), f"has an unreadable model_config ({_short(e)})", _KERAS_HINT) from e
    check_keras_config(path, config, "model_config")


# Ops with effects outside the process (files, Python, printing, debugger dumps, event
# files), never needed to run an inference graph. TensorFlow runs some functions of a
# SavedModel while loading it (resource initializers, TF1 init and restore ops), so one
# of these there would write a file before tensorbridge sees the model.
_SIDE_EFFECT_OPS = frozenset({
    "WriteFile", "Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "Print", "PrintV2",
    "PyFunc", "PyFuncStateless", "EagerPyFunc", "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
    "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2", "CreateSummaryFileWriter",
    "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary",
    "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent",
    "FlushSummaryWriter", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "SaveDataset",
    "SaveDatasetV2", "SnapshotDataset", "SnapshotDatasetV2", "CacheDataset", "CacheDatasetV2"})
_INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op", "table_initializer", "saved_model_initializers")


def check_savedmodel(path: Path) -> None:
    """Refuse a SavedModel that uses ops this TensorFlow does not register (TensorFlow
    never loads op libraries on its own and ``tf.load_op_library`` is never called here, so
    such a model cannot run), or whose loadable / callable part holds a side-effect op.
    The saver's own save function legitimately writes checkpoints; it is never run."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as e:  # protobuf's DecodeError, OSError, MemoryError for absurd sizes
        raise ModelLoadError(str(path), f"saved_model.pb is not a SavedModel ({_short(e)})",
                             "Re-save it with tf.saved_model.save") from e
    for meta_graph in proto.meta_graphs:
        library = {fn.signature.name: fn for fn in meta_graph.graph_def.library.function}
        every = {n.op for n in meta_graph.graph_def.node} | {n.op for f in library.values() for n in f.node_def}
        unknown = sorted(op for op in every - set(library) if op_def_registry.get(op) is None)
        if unknown:
            raise ModelLoadError(str(path), f"uses ops this TensorFlow does not register: {', '.join(unknown[:20])}",
                                 "Custom op libraries are never loaded; export the model with built-in ops only")
        effects = sorted(_runnable_ops(meta_graph, library) & _SIDE_EFFECT_OPS)
        if effects:
            raise ModelLoadError(str(path), f"runs ops with effects outside the model ({', '.join(effects)}) when "
                                 "loaded or called", "Export the model without file, print, Python or "
                                 "summary ops; such a SavedModel is refused unread")


def _runnable_ops(meta_graph: Any, library: dict[str, Any]) -> set[str]:
    """Ops of everything loading or calling the SavedModel can run: the object graph's
    functions, signature outputs, the restore op and init ops, with their inputs and the
    functions they call (``f``/branch/body attributes, or a function used as an op)."""
    graph = {n.name: n for n in meta_graph.graph_def.node}
    tensors = [t.name for sig in meta_graph.signature_def.values() for t in sig.outputs.values()]
    tensors += [meta_graph.saver_def.restore_op_name]
    for key in _INIT_COLLECTIONS:
        if key in meta_graph.collection_def:
            tensors += list(meta_graph.collection_def[key].node_list.value)
    functions = [name for obj in meta_graph.object_graph_def.nodes
                 for name in (*obj.function.concrete_functions, obj.bare_concrete_function.concrete_function_name)]
    nodes = [graph[t.lstrip("^").split(":")[0]] for t in tensors if t.lstrip("^").split(":")[0] in graph]
    ops: set[str] = set()
    seen_nodes: set[str] = set()
    seen_fns: set[str] = set()
    while nodes or functions:
        if functions:
            name = functions.pop()
            if name in library and name not in seen_fns:
                seen_fns.add(name)
                nodes.extend(library[name].node_def)
            continue
        node = nodes.pop()
        ops.add(node.op)
        functions.append(node.op)
        for value in node.attr.values():
            functions += [value.func.name] + [f.name for f in value.list.func]
        if node.name in graph and node.name not in seen_nodes and graph[node.name] is node:
            seen_nodes.add(node.name)
            nodes += [graph[i] for i in (x.lstrip("^").split(":")[0] for x in node.input) if i in graph]
    return ops


_KERAS_MEMBERS = re.compile(r"config\.json|metadata\.json|model\.weights\.(?:h5|npz)|assets/[^\\]+")
# the packages keras.saving itself imports ``module`` fields from; anything else is refused
_KERAS_PACKAGES = {"keras", "keras_hub", "keras_cv", "keras_nlp"}
_KERAS_HINT = ("The file may be hostile. Only Keras' own layers and objects registered with "
               "keras.saving.register_keras_serializable are loaded; Lambda layers must wrap a "
               "registered function, not Python bytecode")


def check_keras_archive(path: Path) -> None:
    """Refuse, before Keras reads it, a .keras holding Python bytecode (``__lambda__``: a
    Lambda layer's function) or a config whose ``module`` fields name a package outside
    Keras (keras.saving imports them). Members other than the config, the metadata, the
    weights and assets are refused too: Keras would extract them to a temp folder."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not _KERAS_MEMBERS.fullmatch(name) or ".." in name.split("/"):
                    raise ModelLoadError(str(path), f"unexpected member {name!r} in the .keras archive",
                                         _KERAS_HINT)
            info = zf.getinfo("config.json")
            if info.file_size > 1 << 28:
                raise ModelLoadError(str(path), f"config.json declares {info.file_size} bytes", _KERAS_HINT)
            config = json.loads(zf.read(info).decode("utf-8"))
    except ModelLoadError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, RecursionError) as e:
        raise ModelLoadError(str(path), f"not a readable .keras archive ({_short(e)})",
                             "Re-save the model with model.save('model.keras')") from e
    check_keras_config(path, config, "config.json")


def check_keras_config(path: Path, config: Any, where: str) -> None:
    """Refuse a Keras model config holding Python bytecode (a Lambda layer's function) or
    ``module`` fields naming a package outside Keras (keras.saving would import it)."""
    stack = [config]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if (key == "class_name" and value == "__lambda__") or (key == "function_type" and value == "lambda"):
                raise ModelLoadError(str(path), f"{where} holds Python bytecode (a Lambda layer's "
                                     "function); it is never deserialized", _KERAS_HINT)
            if key == "module" and value is not None and (
                    not isinstance(value, str) or (value != "builtins" and value.split(".")[0] not in _KERAS_PACKAGES)):
                raise ModelLoadError(str(path), f"{where} names module {value!r}, outside Keras; "
                                     "it is never imported", _KERAS_HINT)
            stack.append(value)


@contextlib.contextmanager
def _forced_safe_mode() -> Iterator[None]:
    """``keras.config.enable_unsafe_deserialization()`` is process-wide and overrides the
    ``safe_mode=True`` we pass; keep safe mode on for our load whatever it says."""
    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # Keras moved it: the safe_mode argument and the check above remain
        yield
        return
    with SafeModeScope(True):
        yield


def serving_signature(signatures: Any, where: str) -> Any:
    if "serving_default" in signatures:
        return signatures["serving_default"]
    if len(signatures) == 1:
        return next(iter(signatures.values()))
    available = ", ".join(sorted(signatures)) or "none"
    raise ModelLoadError(where, f"no serving_default signature (available: {available})",
                         "Save with tf.saved_model.save(obj, path, signatures=fn."
                         "get_concrete_function(...)), or pass the ConcreteFunction itself")


def _keras_specs(model: Any, example_inputs: Any) -> list[Any]:
    """One TensorSpec argument (possibly a list/dict of specs) for calling the model."""
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):  # graph inputs follow tf.nest order: sorted keys
        return [{k: tf.TensorSpec(t.shape, t.dtype, name=_input_name(t.name, 0, 1) if t.name else k)
                 for k, t in struct.items()}]
    inputs = _model_inputs(model)
    if inputs:
        specs = [tf.TensorSpec(t.shape, t.dtype, name=_input_name(t.name, i, len(inputs)))
                 for i, t in enumerate(inputs)]
        return [specs[0] if len(specs) == 1 else specs]
    if example_inputs is None:
        raise CaptureError(
            f"Keras model {model.name!r} has no known input shapes (a subclassed model that was "
            "never built on a keras.Input): pass example_inputs (arrays), or wrap it in "
            "tf.function(lambda x: model(x), input_signature=[tf.TensorSpec(...)])")
    arrays = _as_list(example_inputs)
    specs = [tf.TensorSpec((None, *np.shape(a)[1:]), tf.as_dtype(np.asarray(a).dtype),
                           name=_input_name("", i, len(arrays))) for i, a in enumerate(arrays)]
    return [specs[0] if len(specs) == 1 else specs]


def _model_inputs(model: Any) -> list[Any]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    return list(inputs or [])


def _input_name(name: str, i: int, n: int) -> str:
    if name and not name.startswith("keras_tensor"):
        return name
    return "input" if n == 1 else f"input_{i}"


def _keras_call(model: Any) -> Any:
    def call(inputs: Any) -> Any:
        return model(inputs, training=False)

    return call


def _trace_function(fn: Any, example_inputs: Any) -> Any:
    if fn.input_signature is not None:
        return fn.get_concrete_function()
    if example_inputs is None:
        raise CaptureError("a tf.function without input_signature needs example_inputs: pass "
                           "arrays, or decorate it with @tf.function(input_signature=[tf.TensorSpec(...)])")
    specs = [tf.TensorSpec(np.shape(a), tf.as_dtype(np.asarray(a).dtype), name=_input_name("", i, n))
             for n in [len(_as_list(example_inputs))] for i, a in enumerate(_as_list(example_inputs))]
    return fn.get_concrete_function(*specs)


def traced_functions(fn: Any, example_inputs: Any = None) -> list[Any]:
    """The ConcreteFunctions of a tf.function: the one of its input signature or of
    ``example_inputs``, else those it has been traced into already (by a conversion)."""
    if isinstance(fn, tf.types.experimental.ConcreteFunction):
        return [fn]
    if fn.input_signature is not None or example_inputs is not None:
        return [_trace_function(fn, example_inputs)]
    listed = getattr(fn, "_list_all_concrete_functions", None)  # private TF API: traces so far
    found = list(listed()) if callable(listed) else []
    if not found:
        raise CaptureError(f"tf.function {_fn_name(fn)!r} has no input_signature and was never "
                           "traced: pass example_inputs (arrays)")
    return found


def _as_list(example_inputs: Any) -> list[Any]:
    return list(example_inputs) if isinstance(example_inputs, list | tuple) else [example_inputs]


def _fn_name(fn: Any) -> str:
    """``serve`` for a tf.function and for its ConcreteFunction (``__inference_serve_7``)."""
    name = getattr(fn, "__name__", None) or getattr(fn, "name", "") or "main"
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    name = re.sub(r"^__inference_(.*)_\d+$", r"\1", str(name))
    return "main" if not name or name.startswith("<") else name


# ---------------------------------------------------------------- layer names
@contextlib.contextmanager
def recording_layer_scopes() -> Iterator[dict[str, str]]:
    """Record, while tracing, which TF name scope each Keras layer call opened.

    Keras opens a layer's scope twice per call (build, then call), and TF uniquifies graph
    name scopes, so layer ``dense`` may run under ``dense_1`` or ``dense_2``: the mapping
    cannot be guessed from node names afterwards. Keras' private scope class may change;
    then nothing is recorded and node-name scopes are used as they are."""
    scopes: dict[str, str] = {}
    try:
        from keras.src.backend.common.name_scope import current_path
        from keras.src.backend.tensorflow.core import name_scope
    except ImportError:
        yield scopes
        return
    original = name_scope.__enter__

    def enter(self: Any) -> Any:
        result = original(self)
        if getattr(self, "_pop_on_exit", False) and not tf.executing_eagerly():
            tf_scope = tf.compat.v1.get_default_graph().get_name_scope()
            if tf_scope:
                scopes.setdefault(tf_scope, current_path())
        return result

    name_scope.__enter__ = enter  # type: ignore[method-assign]
    try:
        yield scopes
    finally:
        name_scope.__enter__ = original  # type: ignore[method-assign]


# ---------------------------------------------------------------- freezing
def model_weights(func: Any, model: Any) -> list[tuple[Any, Any, Weight]]:
    """(variable, its resource handle, Weight) for every variable of the Keras ``model``
    (``model.weights`` order) and then every other variable the concrete function ``func``
    reads (either may be None), once each. Names are Keras weight paths, else variable
    names without ``:0``; a name already taken (TensorFlow lets many variables be called
    "Variable") gets ``_1``, ``_2``... in this order, so every weight keeps its own name."""
    found: list[tuple[Any, Any, str, bool, bool]] = []
    seen: set[int] = set()
    parameters = _keras_parameters(model) if model is not None else set()
    for w in (model.weights if model is not None else ()):
        handle = getattr(getattr(w, "value", None), "handle", None)
        if handle is not None and id(handle) not in seen:
            seen.add(id(handle))
            found.append((w, handle, w.path, bool(w.trainable), id(w) in parameters))
    for v in getattr(func, "variables", ()):
        if id(v.handle) not in seen:
            seen.add(id(v.handle))
            found.append((v, v.handle, v.name.split(":")[0], bool(v.trainable), bool(v.trainable)))
    taken: set[str] = set()
    out = []
    for var, handle, name, trainable, parameter in found:
        unique, i = name, 1
        while unique in taken:
            unique, i = f"{name}_{i}", i + 1
        taken.add(unique)
        out.append((var, handle, Weight(unique, trainable, parameter or trainable)))
    return out


def _keras_parameters(model: Any) -> set[int]:
    """ids of the Keras variables created trainable (a frozen layer's kernel among them):
    Keras keeps them in each layer's trainable store even while the layer is frozen.
    Private Keras attributes: without them, every non-trainable variable counts as state."""
    flatten = getattr(model, "_flatten_layers", None)
    layers = flatten(include_self=True, recursive=True) if callable(flatten) else [model]
    return {id(v) for layer in layers for v in getattr(layer, "_trainable_variables", ())}


def _freeze(func: Any) -> Any:
    """The function's GraphDef with variables as constants (named like the placeholders
    that captured them) and calls inlined by grappler; control flow stays functional."""
    from tensorflow.python.framework import convert_to_constants as c2c

    try:
        try:
            # what convert_variables_to_constants_v2 does, minus rebuilding a ConcreteFunction
            # from the result (over half of its time on a ResNet); private, hence the fallback
            data = c2c._FunctionConverterDataInEager(func=func, lower_control_flow=False,
                                                     aggressive_inlining=False)
            graph_def, _ = c2c._replace_variables_by_constants(converter_data=data)
            return graph_def
        except AttributeError:
            frozen = c2c.convert_variables_to_constants_v2(func, lower_control_flow=False)
            return frozen.graph.as_graph_def()
    except Exception as e:  # TF raises many unrelated types here
        raise CaptureError(f"TensorFlow could not freeze the function's variables: {_short(e)}. "
                           "Stateful ops other than variable reads (queues, tables, random "
                           "generators) cannot be frozen; remove them from the inference path") from e


def _shape_graph(func_graph: Any, graph_def: Any) -> tf.Graph:
    """A TF graph holding every node of ``graph_def`` by name, for output dtypes and static
    shapes: the traced graph itself when freezing kept all its names (importing a graph
    with its weights is slow), else ``graph_def`` imported."""
    names = {op.name for op in func_graph.get_operations()}
    if all(n.name in names for n in graph_def.node):
        return func_graph
    return import_graph(graph_def)


def import_graph(graph_def: Any) -> tf.Graph:
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return g


def _input_spec(t: Any) -> InputSpec:
    name = t.op.name
    shape = t.shape
    dims: tuple[int | str, ...] | None = None
    if shape.rank is not None:
        dims = tuple(d if d is not None else ("batch" if i == 0 else f"{name}_dim{i}")
                     for i, d in enumerate(shape.as_list()))
    return InputSpec(name, to_dtype(t.dtype), dims)


def _outputs(structure: Any, tensors: list[Any]) -> list[tuple[str, str]]:
    """(name, tensor) per flat output: dict keys / nested paths, else output[_i]."""
    from tensorflow.python.util import nest

    paths = [p for p, _ in nest.flatten_with_joined_string_paths(structure)]
    if len(paths) != len(tensors):
        paths = [str(i) for i in range(len(tensors))]
    names = []
    for p in paths:
        if not p:
            names.append("output")
        elif p.replace("/", "").isdigit():
            names.append(f"output_{p.replace('/', '_')}")
        else:
            names.append(p.replace("/", "_"))
    if len(names) == 1 and names[0] == "output_0":
        names = ["output"]
    return list(zip(names, [t.name for t in tensors]))


def _short(e: Exception, limit: int = 400) -> str:
    text = " ".join(str(e).split())
    text = f"{type(e).__name__}: {text}"
    return text if len(text) <= limit else text[:limit] + " ..."
