"""A corpus of hostile and malformed ONNX models: each is refused with a ModelLoadError,
through ``tb.load`` and through the CLI (exit 2, a short first line, no traceback), and
nothing is written or run.

The corpus mutates real models (``fixtures/*.onnx`` and onnx's own ``light`` models shipped
in the onnx package), truncates them, and builds small models for each class of problem.
A fast slice runs by default; the full corpus is marked ``slow``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
BASES = {p.stem: p for p in [*sorted(FIXTURES.glob("*.onnx")), *sorted(LIGHT.glob("*.onnx"))]}
FAST_BASES = ("tiny_cnn", "light_squeezenet")
FIRST_LINE_MAX = 400


@cache
def _base_bytes(name: str) -> bytes:
    return BASES[name].read_bytes()


def _base(name: str) -> onnx.ModelProto:
    return onnx.ModelProto.FromString(_base_bytes(name))


# ------------------------------------------------------------------ mutations of real models
def _biggest(m: onnx.ModelProto) -> TensorProto:
    return max(m.graph.initializer, key=lambda t: len(t.raw_data) or t.ByteSize())


def _plain_input(m: onnx.ModelProto) -> onnx.ValueInfoProto:
    inits = {t.name for t in m.graph.initializer}
    return next(vi for vi in m.graph.input if vi.name not in inits)


def _neg_dims(m: onnx.ModelProto, folder: Path) -> None:
    t = _biggest(m)
    t.dims[0] = -t.dims[0] - 1


def _overflow_dims(m: onnx.ModelProto, folder: Path) -> None:
    t = _biggest(m)
    del t.dims[:]
    t.dims.extend([2**33, 2**33, 4])


def _huge_dims(m: onnx.ModelProto, folder: Path) -> None:
    t = _biggest(m)
    del t.dims[:]
    t.dims.extend([2**30, 2**20])


def _short_data(m: onnx.ModelProto, folder: Path) -> None:
    t = _biggest(m)
    if t.raw_data:
        t.raw_data = t.raw_data[:-1]
    else:
        t.dims[0] += 1


def _dtype(code: int) -> Callable[[onnx.ModelProto, Path], None]:
    def mutate(m: onnx.ModelProto, folder: Path) -> None:
        _biggest(m).data_type = code
    return mutate


def _input_elem(code: int) -> Callable[[onnx.ModelProto, Path], None]:
    def mutate(m: onnx.ModelProto, folder: Path) -> None:
        _plain_input(m).type.tensor_type.elem_type = code
    return mutate


def _dup_input(m: onnx.ModelProto, folder: Path) -> None:
    m.graph.input.append(_plain_input(m))


def _dup_output(m: onnx.ModelProto, folder: Path) -> None:
    m.graph.output.append(m.graph.output[0])


def _dup_initializer(m: onnx.ModelProto, folder: Path) -> None:
    m.graph.initializer.append(m.graph.initializer[0])


def _produced_twice(m: onnx.ModelProto, folder: Path) -> None:
    first = m.graph.node[0]
    m.graph.node.append(helper.make_node("Identity", [first.input[0]], [first.output[0]], name="again"))


def _opset(version: int) -> Callable[[onnx.ModelProto, Path], None]:
    def mutate(m: onnx.ModelProto, folder: Path) -> None:
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = version
    return mutate


def _ir(version: int) -> Callable[[onnx.ModelProto, Path], None]:
    def mutate(m: onnx.ModelProto, folder: Path) -> None:
        m.ir_version = version
    return mutate


def _dup_opset(m: onnx.ModelProto, folder: Path) -> None:
    m.opset_import.append(helper.make_opsetid("", 13 if m.opset_import[0].version != 13 else 12))


def _fn(name: str, calls: str) -> onnx.FunctionProto:
    return helper.make_function("local", name, ["a"], ["b"], [helper.make_node(calls, ["a"], ["b"], domain="local")],
                                [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])


def _self_call(m: onnx.ModelProto, folder: Path) -> None:
    m.functions.append(_fn("F", "F"))
    m.opset_import.append(helper.make_opsetid("local", 1))


def _mutual_calls(m: onnx.ModelProto, folder: Path) -> None:
    m.functions.extend([_fn("F", "G"), _fn("G", "H"), _fn("H", "F")])
    m.opset_import.append(helper.make_opsetid("local", 1))


def _external(truncate: bool = False, **keys: str) -> Callable[[onnx.ModelProto, Path], None]:
    """Move the biggest initializer to ``w.bin`` next to the model, then set ``keys``
    (``<len+4>`` stands for the tensor's byte size + 4); ``truncate`` halves the file."""
    def mutate(m: onnx.ModelProto, folder: Path) -> None:
        t = _biggest(m)
        raw = numpy_helper.to_array(t).tobytes()
        (folder / "w.bin").write_bytes(raw[: len(raw) // 2] if truncate else raw)
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            t.ClearField(f)
        t.data_location = TensorProto.EXTERNAL
        entries = {"location": "w.bin", "offset": "0", "length": str(len(raw)), **keys}
        for k, v in entries.items():
            t.external_data.add(key=k, value=v.replace("<len+4>", str(len(raw) + 4)))
    return mutate


def _truncate(fraction: float) -> Callable[[onnx.ModelProto, Path], bytes]:
    def cut(m: onnx.ModelProto, folder: Path) -> bytes:
        data = m.SerializeToString()
        return data[: int(len(data) * fraction)]
    return cut


@dataclass(frozen=True)
class Mutation:
    mutate: Callable[[onnx.ModelProto, Path], bytes | None]
    match: str  # the message (a regex)


MUTATIONS: dict[str, Mutation] = {
    "negative_dim": Mutation(_neg_dims, r"has dim 0 = -\d+"),
    "dims_overflow_int64": Mutation(_overflow_dims, "overflows int64"),
    "dims_beyond_memory": Mutation(_huge_dims, "beyond the .*-byte limit"),
    "data_size_disagrees": Mutation(_short_data, r"bytes of raw_data|values in"),
    "dtype_99": Mutation(_dtype(99), "element type 99, which is not an ONNX element type"),
    "dtype_undefined": Mutation(_dtype(0), r"element type UNDEFINED \(0\)"),
    "input_elem_99": Mutation(_input_elem(99), "graph input .* element type 99"),
    "input_elem_undefined": Mutation(_input_elem(0), r"graph input .* element type UNDEFINED"),
    "duplicate_input": Mutation(_dup_input, "graph input .* is listed twice"),
    "duplicate_output": Mutation(_dup_output, "graph output .* is listed twice"),
    "duplicate_initializer": Mutation(_dup_initializer, "graph initializer .* is listed twice"),
    "value_produced_twice": Mutation(_produced_twice, "writes .*, which is already defined"),
    "opset_999": Mutation(_opset(999), r"opset 999 of 'ai.onnx', outside what onnx .* supports \(1\.\.\d+\)"),
    "opset_0": Mutation(_opset(0), r"opset 0 of 'ai.onnx'"),
    "ir_version_999": Mutation(_ir(999), r"IR version 999 is outside what onnx .* supports \(1\.\.\d+\)"),
    "ir_version_0": Mutation(_ir(0), "IR version 0"),
    "opset_imported_twice": Mutation(_dup_opset, "imports domain 'ai.onnx' twice"),
    "function_calls_itself": Mutation(_self_call, "function 'local::F' calls itself"),
    "functions_call_in_a_cycle": Mutation(_mutual_calls, r"cycle \('local::F' -> 'local::G' -> 'local::H' -> 'local::F'\)"),
    "external_offset_nan": Mutation(_external(offset="abc"), "offset 'abc' is not a number"),
    "external_offset_negative": Mutation(_external(offset="-8"), "offset '-8' is negative"),
    "external_offset_beyond_eof": Mutation(_external(offset="4"), "has .* bytes, but the tensor needs bytes 4"),
    "external_length_negative": Mutation(_external(length="-1"), "length '-1' is negative"),
    "external_length_nan": Mutation(_external(length="1e3"), "length '1e3' is not a number"),
    "external_length_disagrees": Mutation(_external(length="<len+4>"), "length .* disagrees with its dims"),
    "external_file_truncated": Mutation(_external(truncate=True), "the tensor needs bytes 0"),
    "external_location_nul": Mutation(_external(location="w.bin\x00.txt"), "contains a NUL byte"),
    "external_location_absolute": Mutation(_external(location="/etc/passwd"), "path traversal"),
    "external_location_escapes": Mutation(_external(location="../../../../etc/passwd"), "path traversal"),
    "truncated_30": Mutation(_truncate(0.3), "not a valid ONNX protobuf"),
    "truncated_60": Mutation(_truncate(0.6), "not a valid ONNX protobuf"),
    "truncated_90": Mutation(_truncate(0.9), "not a valid ONNX protobuf"),
}


def _twice_location(m: onnx.ModelProto, folder: Path) -> None:
    name = _biggest(m).name
    _external()(m, folder)
    next(t for t in m.graph.initializer if t.name == name).external_data.add(key="location", value="other.bin")


MUTATIONS["external_key_twice"] = Mutation(_twice_location, "key 'location' is given twice")


# ------------------------------------------------------------------ models built for one problem
def _model(nodes, inputs=("x",), outputs=("y",), inits=(), opset=18, functions=(), **kw) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in outputs],
                          initializer=list(inits), **kw)
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("local", 1)] if functions else [])
    return helper.make_model(g, opset_imports=opsets, functions=list(functions))


def _branch(n_out: int, n_in: int = 0, name: str = "b") -> onnx.GraphProto:
    return helper.make_graph([helper.make_node("Identity", ["x"], [f"{name}{i}"]) for i in range(n_out)], name,
                             [helper.make_tensor_value_info(f"{name}_in{i}", TensorProto.FLOAT, [2]) for i in range(n_in)],
                             [helper.make_tensor_value_info(f"{name}{i}", TensorProto.FLOAT, [2]) for i in range(n_out)])


_COND = numpy_helper.from_array(np.array(True), "c")


def _if(then_out: int, else_out: int, node_out: int = 1, then_in: int = 0) -> onnx.ModelProto:
    outs = ["y"] + [f"y{i}" for i in range(1, node_out)]
    node = helper.make_node("If", ["c"], outs, name="branch", then_branch=_branch(then_out, then_in, "t"),
                            else_branch=_branch(else_out, 0, "e"))
    return _model([node], outputs=outs, inits=[_COND])


def _loop_body(n_in: int, n_out: int) -> onnx.GraphProto:
    ins = [helper.make_tensor_value_info("i", TensorProto.INT64, []),
           helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])]
    ins += [helper.make_tensor_value_info(f"v{k}", TensorProto.FLOAT, [2]) for k in range(n_in - 2)]
    nodes = [helper.make_node("Identity", ["cond_in"], ["cond_out"])]
    outs = [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])]
    for k in range(n_out - 1):
        nodes.append(helper.make_node("Identity", ["x"], [f"o{k}"]))
        outs.append(helper.make_tensor_value_info(f"o{k}", TensorProto.FLOAT, [2]))
    return helper.make_graph(nodes, "body", ins, outs)


def _loop(body_in: int, body_out: int) -> onnx.ModelProto:
    trip = numpy_helper.from_array(np.array(2, np.int64), "trip")
    node = helper.make_node("Loop", ["trip", "c", "x"], ["y"], name="loop", body=_loop_body(body_in, body_out))
    return _model([node], inits=[trip, _COND])


def _scan(body_in: int, num_scan_inputs: int = 1) -> onnx.ModelProto:
    ins = [helper.make_tensor_value_info(f"s{k}", TensorProto.FLOAT, []) for k in range(body_in)]
    body = helper.make_graph([helper.make_node("Identity", ["s0"], ["o0"])], "body", ins,
                             [helper.make_tensor_value_info("o0", TensorProto.FLOAT, [])])
    node = helper.make_node("Scan", ["x"], ["y"], name="scan", body=body, num_scan_inputs=num_scan_inputs)
    return _model([node])


def _recursion_through_subgraph() -> onnx.ModelProto:
    inner = helper.make_graph([helper.make_node("F", ["a"], ["r"], domain="local")], "then", [],
                              [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Identity", ["a"], ["r2"])], "else", [],
                              [helper.make_tensor_value_info("r2", TensorProto.FLOAT, [2])])
    f = helper.make_function("local", "F", ["a"], ["b"], [
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(True), "k")),
        helper.make_node("If", ["k"], ["b"], then_branch=inner, else_branch=other)],
        [helper.make_opsetid("", 18), helper.make_opsetid("local", 1)])
    return _model([helper.make_node("F", ["x"], ["y"], domain="local")], functions=[f])


def _call_arity() -> onnx.ModelProto:
    f = helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                             [helper.make_opsetid("", 18)])
    return _model([helper.make_node("F", ["x", "x"], ["y"], domain="local", name="call")], functions=[f])


def _sparse(indices: list[int]) -> onnx.ModelProto:
    values = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "s")
    idx = numpy_helper.from_array(np.array(indices, np.int64), "s_idx")
    st = helper.make_sparse_tensor(values, idx, [2])
    return _model([helper.make_node("Add", ["x", "s"], ["y"])], sparse_initializer=[st])


def _attr_external() -> onnx.ModelProto:
    t = numpy_helper.from_array(np.array([1, 2], np.float32), "c")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../../../etc/passwd")
    return _model([helper.make_node("Constant", [], ["c"], value=t), helper.make_node("Add", ["x", "c"], ["y"])])


def _tensor_with(**fields) -> onnx.ModelProto:
    t = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "w")
    for k, v in fields.items():
        if isinstance(v, list):
            getattr(t, k).extend(v)
        else:
            setattr(t, k, v)
    return _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[t])


def _undefined_attr_type() -> onnx.ModelProto:
    # (an unknown enum code in a file parses as UNDEFINED: protobuf enums are closed)
    m = _model([helper.make_node("Softmax", ["x"], ["y"], axis=0)])
    m.graph.node[0].attribute[0].type = AttributeProto.UNDEFINED
    return m


def _segmented() -> onnx.ModelProto:
    m = _tensor_with()
    m.graph.initializer[0].segment.begin = 0
    m.graph.initializer[0].segment.end = 1
    return m


def _dup_attr() -> onnx.ModelProto:
    m = _model([helper.make_node("Softmax", ["x"], ["y"], axis=0)])
    m.graph.node[0].attribute.append(helper.make_attribute("axis", 1))
    return m


def _map_key(code: int) -> onnx.ModelProto:
    m = _model([helper.make_node("Relu", ["x"], ["y"])])
    vi = helper.make_value_info("m", helper.make_map_type_proto(code, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    m.graph.input.append(vi)
    return m


def _empty_input_name() -> onnx.ModelProto:
    m = _model([helper.make_node("Relu", ["x"], ["y"])])
    m.graph.input.append(helper.make_tensor_value_info("", TensorProto.FLOAT, [2]))
    return m


def _ml_opset() -> onnx.ModelProto:
    m = _model([helper.make_node("Relu", ["x"], ["y"])])
    m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 99))
    return m


BUILT: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    "if_branches_differ": (lambda: _if(1, 2), r"then_branch returns 1 outputs but else_branch returns 2"),
    "if_branches_vs_node": (lambda: _if(2, 2), "then_branch returns 2 outputs but the node has 1"),
    "if_branch_with_inputs": (lambda: _if(1, 1, then_in=1), "If branches take none"),
    "loop_body_inputs": (lambda: _loop(2, 2), "body takes 2 inputs but the node passes 3"),
    "loop_body_outputs": (lambda: _loop(3, 4), "body returns 4 outputs but the node has 1"),
    "scan_body_inputs": (lambda: _scan(2), "body takes 2 inputs but the node passes 1"),
    "scan_num_scan_inputs": (lambda: _scan(1, 3), "num_scan_inputs is 3"),
    "function_recursion_in_subgraph": (_recursion_through_subgraph, "function 'local::F' calls itself"),
    "function_call_arity": (_call_arity, "has 2 inputs but the function declares 1"),
    "sparse_index_out_of_range": (lambda: _sparse([0, 5]), "has an index outside its dims"),
    "sparse_index_negative": (lambda: _sparse([-1, 0]), "has an index outside its dims"),
    "attribute_tensor_external_escapes": (_attr_external, "path traversal"),
    "tensor_raw_and_typed": (lambda: _tensor_with(float_data=[1.0, 2.0]), "holds both raw_data and float_data"),
    "tensor_segment": (_segmented, "stored in segments"),
    "string_tensor_raw": (lambda: _tensor_with(data_type=TensorProto.STRING), "STRING tensor with raw_data"),
    "attribute_type_undefined": (_undefined_attr_type, "unknown type code 0"),
    "attribute_twice": (_dup_attr, "sets attribute 'axis' twice"),
    "map_key_float": (lambda: _map_key(TensorProto.FLOAT), "map with FLOAT keys"),
    "input_without_name": (_empty_input_name, "a graph input has an empty name"),
    "ml_opset_99": (_ml_opset, r"opset 99 of 'ai.onnx.ml', outside what onnx .* supports"),
}


# ------------------------------------------------------------------ the corpus
@dataclass(frozen=True)
class Case:
    id: str
    write: Callable[[Path], Path]  # writes the model (and any data file) into a folder
    match: str


def _mutated(base: str, name: str) -> Case:
    mutation = MUTATIONS[name]

    def write(folder: Path) -> Path:
        m = _base(base)
        out = mutation.mutate(m, folder)
        path = folder / f"{base}.onnx"
        path.write_bytes(out if isinstance(out, bytes) else m.SerializeToString())
        return path

    return Case(f"{name}[{base}]", write, mutation.match)


def _built(name: str) -> Case:
    build, match = BUILT[name]

    def write(folder: Path) -> Path:
        path = folder / f"{name}.onnx"
        path.write_bytes(build().SerializeToString())
        return path

    return Case(name, write, match)


FAST = [_mutated(b, n) for b in FAST_BASES for n in MUTATIONS] + [_built(n) for n in BUILT]
FULL = [_mutated(b, n) for b in BASES if b not in FAST_BASES for n in MUTATIONS]
# a few cases run through the real command line in the fast slice; the rest are slow
CLI_FAST = [c for c in FAST if c.id in ("dims_overflow_int64[tiny_cnn]", "functions_call_in_a_cycle[tiny_cnn]",
                                        "external_length_negative[light_squeezenet]", "if_branches_differ")]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _assert_refused(case: Case, folder: Path) -> None:
    path = case.write(folder)
    with pytest.raises(tb.ModelLoadError, match=case.match) as info:
        tb.load(path)
    message = str(info.value)
    assert str(path) in message.splitlines()[0], "the first line names the file"
    assert len(_first_line(message)) < FIRST_LINE_MAX + len(str(path)), message
    assert len(message) < 2500, message


@pytest.mark.parametrize("case", FAST, ids=lambda c: c.id)
def test_refused_by_load(case, tmp_path):
    _assert_refused(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", FULL, ids=lambda c: c.id)
def test_refused_by_load_full(case, tmp_path):
    _assert_refused(case, tmp_path)


def _cli_in_process(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", FAST, ids=lambda c: c.id)
def test_refused_by_cli_commands(case, tmp_path, capsys):
    """inspect, run and convert: exit 2 with a short error naming the problem; convert
    writes nothing."""
    path = case.write(tmp_path)
    np.savez(tmp_path / "in.npz", x=np.ones(2, np.float32))
    out = tmp_path / "out" / "converted.onnx"
    out.parent.mkdir()
    for argv in (["inspect", str(path)], ["run", str(path), "--inputs", str(tmp_path / "in.npz")],
                 ["convert", str(path), "-o", str(out)]):
        code, err = _cli_in_process(argv, capsys)
        assert code == 2, (argv, err)
        assert _first_line(err).startswith("error: "), err
        assert len(_first_line(err)) < FIRST_LINE_MAX + len(str(path)), err
    assert list(out.parent.iterdir()) == [], "convert wrote something for a refused model"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tensorbridge", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _assert_cli_refuses(case: Case, folder: Path) -> None:
    path = case.write(folder)
    out = folder / "out"
    out.mkdir()
    for args in (["inspect", str(path)], ["convert", str(path), "-o", str(out / "m.onnx")]):
        proc = _cli(*args, cwd=folder)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert _first_line(proc.stderr).startswith("error: "), proc.stderr
        assert len(_first_line(proc.stderr)) < FIRST_LINE_MAX + len(str(path)), proc.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("case", CLI_FAST, ids=lambda c: c.id)
def test_refused_by_cli_process(case, tmp_path):
    _assert_cli_refuses(case, tmp_path)


_OTHER_BASES = [b for b in BASES if b not in FAST_BASES]
# every case of the fast slice, and each mutation once more on another real model
CLI_FULL = [c for c in FAST if c not in CLI_FAST] + [
    _mutated(_OTHER_BASES[i % len(_OTHER_BASES)], n) for i, n in enumerate(MUTATIONS)]


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_FULL, ids=lambda c: c.id)
def test_refused_by_cli_process_full(case, tmp_path):
    _assert_cli_refuses(case, tmp_path)


# ------------------------------------------------------------------ truncations and odd files
@pytest.mark.slow
@pytest.mark.parametrize("base", sorted(BASES))
def test_every_truncation_is_refused_or_loads(base, tmp_path):
    """Cut anywhere: either a ModelLoadError, or a prefix that is itself a valid model (a
    protobuf cut between two top-level fields) and then loads."""
    data = _base_bytes(base)
    rng = random.Random(base)
    for cut in sorted({*rng.sample(range(1, len(data)), min(40, len(data) - 1)), 1, 2, len(data) - 1}):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(data[:cut])
        try:
            tb.load(p)
        except tb.ModelLoadError:
            pass


def test_oversized_and_special_files_are_refused(tmp_path):
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(2**31 + 16)  # sparse: no disk used
    with pytest.raises(tb.ModelLoadError, match="more than an ONNX protobuf can hold"):
        tb.load(big)
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    with pytest.raises(tb.ModelLoadError, match="not a regular file"):  # reading it would block
        tb.load(fifo)


def test_external_data_of_a_model_object_is_refused():
    m = _base("tiny_cnn")
    t = _biggest(m)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="w.bin")
    with pytest.raises(tb.ModelLoadError, match="given as an object"):
        tb.load(m)


def test_intermediate_value_info_of_undefined_type_is_ignored(tmp_path):
    """An annotation saying nothing (tensor of UNDEFINED) on an intermediate is skipped, not
    refused: only the model's interface and stored tensors must be typed."""
    m = _model([helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Neg", ["h"], ["y"])],
               value_info=[helper.make_tensor_value_info("h", 0, None)])
    np.testing.assert_array_equal(tb.run(m, np.array([1.0, -1.0], np.float32))[0], [-1.0, 0.0])


def test_real_models_still_load():
    for name in BASES:
        tb.load(BASES[name])


def test_many_problems_list_a_few_and_count_the_rest(tmp_path):
    nodes = [helper.make_node("Add", ["x", f"ghost{i}"], [f"h{i}"], name=f"n{i}") for i in range(30)]
    nodes.append(helper.make_node("Identity", ["x"], ["y"]))
    p = tmp_path / "many.onnx"
    p.write_bytes(_model(nodes).SerializeToString())
    with pytest.raises(tb.ModelLoadError) as info:
        tb.load(p)
    lines = str(info.value).splitlines()
    assert "node 'n0' input 1 refers to 'ghost0'" in lines[0]
    assert "29 more problem(s)" in str(info.value)
    assert lines[-1].strip() == "... and 25 more"
    assert len(str(info.value)) < 2000


def test_huge_names_are_shortened(tmp_path):
    name = "n" * 100_000
    p = tmp_path / "long.onnx"
    p.write_bytes(_model([helper.make_node("Add", ["x", name], ["y"])]).SerializeToString())
    with pytest.raises(tb.ModelLoadError) as info:
        tb.load(p)
    assert len(str(info.value)) < 600


# ------------------------------------------------------------------ CLI arguments
@pytest.fixture
def good_model(tmp_path) -> Path:
    p = tmp_path / "good.onnx"
    p.write_bytes(_model([helper.make_node("Relu", ["x"], ["y"])]).SerializeToString())
    return p


def _bad_inputs(folder: Path) -> dict[str, Path]:
    np.savez(folder / "good.npz", x=np.ones(2, np.float32))
    good = (folder / "good.npz").read_bytes()
    files = {"corrupt_npz": good[: len(good) // 2], "garbage_npz": b"PK\x03\x04" + bytes(64),
             "text": b"x = 1, 2\n", "empty": b""}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.npz"
        paths[name].write_bytes(data)
    crc = bytearray(good)
    crc[len(crc) // 2] ^= 0xFF
    paths["crc_npz"] = folder / "crc.npz"
    paths["crc_npz"].write_bytes(bytes(crc))
    paths["object_npz"] = folder / "object.npz"
    np.savez(paths["object_npz"], x=np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    paths["npy"] = folder / "array.npy"
    np.save(paths["npy"], np.ones(2, np.float32))
    paths["declared_too_big"] = folder / "big.npz"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    import zipfile

    with zipfile.ZipFile(paths["declared_too_big"], "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    paths["folder"] = folder / "folder.npz"
    paths["folder"].mkdir()
    paths["missing"] = folder / "absent.npz"
    return paths


BAD_INPUTS = ["corrupt_npz", "garbage_npz", "text", "empty", "crc_npz", "object_npz", "npy",
              "declared_too_big", "folder", "missing"]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_inputs_file_is_refused(kind, good_model, tmp_path, capsys):
    bad = _bad_inputs(tmp_path)[kind]
    for argv in (["run", str(good_model), "--inputs", str(bad)],
                 ["convert", str(good_model), "-o", str(tmp_path / "o.onnx"), "--inputs", str(bad)]):
        code, err = _cli_in_process(argv, capsys)
        assert code == 2, err
        assert _first_line(err).startswith(f"error: --inputs {bad}"), err
    assert not (tmp_path / "o.onnx").exists()


def test_bad_inputs_in_a_process(good_model, tmp_path):
    paths = _bad_inputs(tmp_path)
    for kind in ("crc_npz", "object_npz", "npy"):
        proc = _cli("run", str(good_model), "--inputs", str(paths[kind]), cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("where", ["missing_folder", "existing_folder"])
def test_convert_output_path_is_checked(where, good_model, tmp_path, capsys):
    out = tmp_path / "nowhere" / "m.onnx" if where == "missing_folder" else tmp_path / "adir"
    if where == "existing_folder":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    code, err = _cli_in_process(["convert", str(good_model), "-o", str(out)], capsys)
    assert code == 2, err
    assert ("does not exist" if where == "missing_folder" else "is a directory") in _first_line(err)
    if where == "existing_folder":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.rglob(".tb-tmp-*")]


def test_convert_output_path_in_a_process(good_model, tmp_path):
    (tmp_path / "adir").mkdir()
    for out in (tmp_path / "nowhere" / "m.onnx", tmp_path / "adir"):
        proc = _cli("convert", str(good_model), "-o", str(out), cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
