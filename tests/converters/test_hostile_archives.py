"""Hostile model files: nothing in a .pt2, .keras or SavedModel may run code, load a native
library or write a file while we load it, and every refusal is one clean ModelLoadError.

Every hostile archive here is a real torch.export.save / model.save output mutated in one
place. Each attack carries a canary: a file that the attack would create if any part of
loading evaluated it. Each test asserts the exact error class, that the canary never
appears, that nothing was written to the (private) temp folder, and that nothing reached
stdout or stderr.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import pytest  # noqa: E402
import torch  # noqa: E402
from torch.export import Dim  # noqa: E402

from tensorbridge.converters.pytorch.capture import _check_call_targets, load_pt2  # noqa: E402
from tensorbridge.converters.pytorch.sym_grammar import GrammarError, parse_guard, parse_sym_expr  # noqa: E402
from tensorbridge.ir.errors import ModelLoadError  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


# ---------------------------------------------------------------- models
class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


class Shapes(torch.nn.Module):
    """Sizes that torch.export writes as FloorDiv / Mod / Mul expressions, a derived dim
    (2 * h) in range_constraints, and guards_code."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b, n = x.shape
        pad = torch.nn.functional.pad(x, (0, (4 - n % 4) % 4))
        return x.reshape(b, n // 2, 2).sum(-1), pad, x[:, : n - 1], torch.cat([x, x], 1).view(-1)


class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.embed(x))


def _save(module: torch.nn.Module, args: tuple[Any, ...], dynamic: Any, path: Path) -> Path:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(module.eval(), args, dynamic_shapes=dynamic)
        torch.export.save(ep, str(path))
    return path


@pytest.fixture(scope="module")
def conv_pt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pt2") / "conv.pt2"
    return _save(ConvNet(), (torch.randn(2, 3, 8, 8),), {"x": {0: Dim("batch", max=64)}}, path)


@pytest.fixture(scope="module")
def shapes_pt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pt2") / "shapes.pt2"
    return _save(Shapes(), (torch.randn(3, 8),), {"x": {0: Dim("b"), 1: 2 * Dim("h", min=2, max=64)}}, path)


# ---------------------------------------------------------------- archive surgery
def _root(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()[0].split("/", 1)[0]


def _rewrite(src: Path, dst: Path, *, json_edits: dict[str, Callable[[Any], Any]] | None = None,
             add: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None,
             raw_names: list[tuple[str, bytes]] | None = None) -> Path:
    """Copy ``src`` member by member. ``json_edits`` maps a member (without the root
    folder) to a function editing its parsed JSON in place; ``add``/``replace`` give bytes;
    ``raw_names`` are added exactly as named (no root folder)."""
    root = _root(src)
    json_edits, add, replace = json_edits or {}, add or {}, replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        for info in zin.infolist():
            rel = info.filename.split("/", 1)[1]
            data = zin.read(info)
            if rel in json_edits:
                doc = json.loads(data)
                json_edits[rel](doc)
                data = json.dumps(doc).encode()
            data = replace.get(rel, data)
            zout.writestr(zipfile.ZipInfo(info.filename), data)
        for rel, data in add.items():
            zout.writestr(zipfile.ZipInfo(f"{root}/{rel}"), data)
        for name, data in raw_names or []:
            zout.writestr(zipfile.ZipInfo(name), data)
    return dst


def _program(edit: Callable[[dict[str, Any]], None]) -> dict[str, Callable[[Any], Any]]:
    return {"models/model.json": edit}


def _first(doc: Any, key: str) -> dict[str, Any]:
    """The first dict (depth first) holding ``key``."""
    stack = [doc]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if key in node:
                return node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no {key!r} in the archive")


def _touch(canary: Path) -> str:
    return f"__import__('pathlib').Path({str(canary)!r}).touch()"


def _canary_module(tmp: Path, canary: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module whose import creates the canary, importable by name."""
    name = f"tb_canary_{uuid.uuid4().hex[:10]}"
    (tmp / f"{name}.py").write_text(f"import pathlib\npathlib.Path({str(canary)!r}).touch()\n"
                                    "import enum\nclass E(enum.Enum):\n    A = 1\ndef f():\n    return 0\n")
    monkeypatch.syspath_prepend(str(tmp))
    return name


class _Evil:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> Any:
        return exec, (f"import pathlib; pathlib.Path({str(self.canary)!r}).touch()",)


def _sample_inputs_with(pt2: Path, payload: bytes) -> bytes:
    """The archive's sample-input torch.save zip with its data.pkl replaced."""
    root = _root(pt2)
    with zipfile.ZipFile(pt2) as zf:
        inner = zf.read(f"{root}/data/sample_inputs/model.pt")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(inner)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = payload if info.filename.endswith("data.pkl") else zin.read(info)
            zout.writestr(info.filename, data)
    return out.getvalue()


def _native_library(tmp: Path, canary: Path) -> bytes:
    """A shared library whose constructor creates the canary (placeholder bytes when no C
    compiler is installed: the refusal happens before anything could load it anyway)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return b"\x7fELF not really"
    src = tmp / "ctor.c"
    src.write_text('#include <stdio.h>\n__attribute__((constructor)) static void tb_init(void) '
                   f'{{ FILE *f = fopen("{canary}", "w"); if (f) fclose(f); }}\n')
    lib = tmp / "ctor.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, capture_output=True)
    return lib.read_bytes()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Route every temp file (Python's tempfile and C++ TMPDIR) to an empty folder."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _refused(path: Path, canary: Path, private_tmp: Path, capfd: pytest.CaptureFixture[str],
             load: Callable[[Path], Any] = load_pt2) -> str:
    capfd.readouterr()
    with pytest.raises(ModelLoadError) as info:
        load(path)
    out, err = capfd.readouterr()
    assert type(info.value) is ModelLoadError
    assert not canary.exists(), "the hostile payload ran"
    assert list(private_tmp.iterdir()) == [], "loading wrote to the temp folder"
    assert not list(Path(tempfile.gettempdir()).glob("aotinductor*"))
    assert (out, err) == ("", ""), "loading printed something"
    assert str(path) in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- hostile .pt2: JSON
def _expr_str(c: Path) -> Any:
    return _program(lambda d: _first(d["graph_module"]["graph"]["tensor_values"], "expr_str")
                    .update(expr_str=_touch(c)))


def _expr_in_srepr(c: Path) -> Any:
    return _program(lambda d: _first(d["graph_module"]["graph"]["tensor_values"], "expr_str")
                    .update(expr_str=f"Mul(Integer(2), {_touch(c)})"))


def _range_key(c: Path) -> Any:
    return _program(lambda d: d["range_constraints"].update({_touch(c): {"min_val": 2, "max_val": 8}}))


def _range_bound(c: Path) -> Any:
    return _program(lambda d: d["range_constraints"].update({"s0": {"min_val": _touch(c), "max_val": 8}}))


def _guard(c: Path) -> Any:
    return _program(lambda d: d["guards_code"].append(f"{_touch(c)} is None"))


def _guard_quote(c: Path) -> Any:
    return _program(lambda d: d["guards_code"].append(
        "L['x'].size()[0] >= 2\", " + _touch(c) + ", \""))


def _node_target(c: Path) -> Any:
    return _program(lambda d: d["graph_module"]["graph"]["nodes"][0].update(target="torch.os.system"))


def _dunder_target(c: Path) -> Any:
    return _program(lambda d: d["graph_module"]["graph"]["nodes"][0].update(
        target="torch.ops.aten.__class__.__subclasses__"))


def _dunder_op_elsewhere(c: Path) -> Any:  # only aten's own __and__/__or__/... are operators
    return _program(lambda d: d["graph_module"]["graph"]["nodes"][0].update(
        target="torch.ops.mylib.__and__.Tensor"))


def _placeholder_name(c: Path) -> Any:
    def edit(d: dict[str, Any]) -> None:
        graph = d["graph_module"]["graph"]
        graph["inputs"][-1]["as_tensor"]["name"] = f"x={_touch(c)}"
    return _program(edit)


def _string_input(c: Path) -> Any:
    return _program(lambda d: d["graph_module"]["graph"]["inputs"].append(
        {"as_string": f"x' == '' or {_touch(c)} or '"}))


def _state_dict_name(c: Path) -> Any:
    def edit(d: dict[str, Any]) -> None:
        spec = _first(d["graph_module"]["signature"], "parameter_name")
        spec["parameter_name"] = 'conv.x"), ' + _touch(c).replace("'", '"') + ', ("'
    return _program(edit)


def _hint(c: Path) -> Any:
    return _program(lambda d: _first(d["graph_module"]["graph"]["tensor_values"], "expr_str")
                    .update(hint={"as_int": _touch(c)}))


def _custom_object(c: Path) -> Any:
    return _program(lambda d: d["graph_module"]["graph"]["custom_obj_values"].update(
        {"obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.tb.Evil"}}))


HOSTILE_JSON = {
    "expr_str": _expr_str, "expr_str_inside_srepr": _expr_in_srepr, "range_constraint_key": _range_key,
    "range_constraint_bound": _range_bound, "guards_code": _guard, "guards_code_breaking_quotes": _guard_quote,
    "node_target_torch_os_system": _node_target, "placeholder_name_injection": _placeholder_name,
    "node_target_dunder": _dunder_target, "node_target_dunder_outside_aten": _dunder_op_elsewhere,
    "string_input_injection": _string_input, "state_dict_name_injection": _state_dict_name,
    "symbolic_hint": _hint, "custom_object": _custom_object,
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_JSON))
def test_hostile_program_json_is_refused(attack, conv_pt2, tmp_path, private_tmp, capfd):
    canary = tmp_path / "canary"
    bad = _rewrite(conv_pt2, tmp_path / "bad.pt2", json_edits=HOSTILE_JSON[attack](canary))
    message = _refused(bad, canary, private_tmp, capfd)
    assert "models/model.json" in message and "field" in message


def _spec_edit(kwargs_node: Callable[[str], dict[str, Any]]) -> Callable[[Path, str], Any]:
    def build(c: Path, module: str) -> Any:
        def edit(d: dict[str, Any]) -> None:
            sig = d["graph_module"]["module_call_graph"][0]["signature"]
            protocol, spec = json.loads(sig["in_spec"])
            spec["children_spec"][1] = kwargs_node(module)
            sig["in_spec"] = json.dumps([protocol, spec])
        return _program(edit)
    return build


HOSTILE_SPECS = {
    # torch decodes pytree contexts with a hook that imports the module an "__enum__" names
    "enum_context_imports": _spec_edit(lambda m: {
        "type": "builtins.dict", "children_spec": [],
        "context": json.dumps([{"__enum__": True, "fqn": f"{m}:E", "name": "A"}])}),
    # a defaultdict spec imports its default factory's module
    "defaultdict_imports": _spec_edit(lambda m: {
        "type": "collections.defaultdict", "children_spec": [],
        "context": {"default_factory_module": m, "default_factory_name": "f", "dict_context": []}}),
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_SPECS))
def test_pytree_spec_that_imports_a_module_is_refused(attack, conv_pt2, tmp_path, private_tmp, capfd,
                                                      monkeypatch):
    canary = tmp_path / "canary"
    module = _canary_module(tmp_path, canary, monkeypatch)
    bad = _rewrite(conv_pt2, tmp_path / "bad.pt2", json_edits=HOSTILE_SPECS[attack](canary, module))
    assert "in_spec" in _refused(bad, canary, private_tmp, capfd)


# ---------------------------------------------------------------- hostile .pt2: members
def test_aotinductor_payload_is_refused_before_extraction(conv_pt2, tmp_path, private_tmp, capfd):
    canary = tmp_path / "canary"
    lib = _native_library(tmp_path, canary)
    bad = _rewrite(conv_pt2, tmp_path / "aoti.pt2", add={
        "data/aotinductor/model/model.so": lib,
        "data/aotinductor/model/model.wrapper.cpp": b"// wrapper",
        "data/aotinductor/model/model_metadata.json": b'{"AOTI_DEVICE_KEY": "cpu"}'})
    assert "AOTInductor" in _refused(bad, canary, private_tmp, capfd)


def _pickled_weight(c: Path) -> dict[str, Any]:
    def edit(doc: dict[str, Any]) -> None:
        next(iter(doc["config"].values()))["use_pickle"] = True
    return {"json_edits": {"data/weights/model_weights_config.json": edit},
            "replace": {"data/weights/weight_0": pickle.dumps(_Evil(c))}}


def _custom_obj_member(c: Path) -> dict[str, Any]:
    def edit(doc: dict[str, Any]) -> None:
        doc["config"]["obj"] = {"path_name": "custom_obj_0", "is_param": False, "use_pickle": True,
                                "tensor_meta": None}
    return {"json_edits": {"data/constants/model_constants_config.json": edit},
            "add": {"data/constants/custom_obj_0": pickle.dumps(_Evil(c))}}


HOSTILE_MEMBERS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "pickled_weight": lambda c, pt2: _pickled_weight(c),
    "custom_obj_member": lambda c, pt2: _custom_obj_member(c),
    "opaque_obj_member": lambda c, pt2: {"add": {"data/constants/opaque_obj_0": pickle.dumps(_Evil(c))}},
    "extra_pickle_member": lambda c, pt2: {"add": {"data/evil.pkl": pickle.dumps(_Evil(c))}},
    "python_member": lambda c, pt2: {"add": {"extra/hook.py": _touch(c).encode()}},
    "legacy_layout_member": lambda c, pt2: {"add": {"serialized_state_dict.pt": pickle.dumps(_Evil(c))}},
    "sample_inputs_global": lambda c, pt2: {"replace": {
        "data/sample_inputs/model.pt": _sample_inputs_with(pt2, pickle.dumps(_Evil(c), protocol=2))}},
    "sample_inputs_stack_global": lambda c, pt2: {"replace": {
        "data/sample_inputs/model.pt": _sample_inputs_with(pt2, pickle.dumps(_Evil(c), protocol=4))}},
    "case_folded_duplicate": lambda c, pt2: {"add": {"Models/Model.json": b"{}"}},
    "duplicate_member": lambda c, pt2: {"add": {"models/model.json": json.dumps(
        {"graph_module": {"graph": {"nodes": [{"target": "torch.os.system"}]}}}).encode()}},
    "outside_the_root_folder": lambda c, pt2: {"raw_names": [("../escape", b"x")]},
    "unexpected_member": lambda c, pt2: {"add": {"data/weights/notes.txt": b"x"}},
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_MEMBERS))
def test_hostile_member_is_refused(attack, conv_pt2, tmp_path, private_tmp, capfd):
    canary = tmp_path / "canary"
    bad = _rewrite(conv_pt2, tmp_path / "bad.pt2", **HOSTILE_MEMBERS[attack](canary, conv_pt2))
    _refused(bad, canary, private_tmp, capfd)


# ---------------------------------------------------------------- malformed .pt2
def _truncate(pt2: Path, dst: Path) -> Path:
    data = pt2.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


MALFORMED: dict[str, Callable[[Path, Path], Path]] = {
    "not_a_zip": lambda pt2, dst: (dst.write_bytes(b"not a zip"), dst)[1],
    "truncated": _truncate,
    "bad_json": lambda pt2, dst: _rewrite(pt2, dst, replace={"models/model.json": b"{"}),
    # these pass the safety checks; torch itself fails, and used to log a traceback first
    "unknown_operator": lambda pt2, dst: _rewrite(pt2, dst, json_edits=_program(
        lambda d: d["graph_module"]["graph"]["nodes"][0].update(target="torch.ops.aten.no_such_op.default"))),
    "short_weight": lambda pt2, dst: _rewrite(pt2, dst, replace={"data/weights/weight_0": b"\0" * 4}),
    "future_schema": lambda pt2, dst: _rewrite(pt2, dst, json_edits=_program(
        lambda d: d["schema_version"].update(major=999))),
    "no_program": lambda pt2, dst: _rewrite(pt2, dst, add={"models/model.json.bak": b""}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_pt2_is_one_clean_error(case, conv_pt2, tmp_path, private_tmp, capfd):
    bad = MALFORMED[case](conv_pt2, tmp_path / "bad.pt2")
    message = _refused(bad, tmp_path / "canary", private_tmp, capfd)
    assert "Traceback" not in message and len(message) < 1500


def test_call_targets_are_checked_after_loading(conv_pt2):
    ep = load_pt2(conv_pt2)
    node = next(n for n in ep.graph.nodes if n.op == "call_function")
    node.target = os.getcwd  # what "torch.os.getcwd" in the JSON would have resolved to
    with pytest.raises(ModelLoadError, match="not an operator"):
        _check_call_targets(conv_pt2, ep)


# ---------------------------------------------------------------- the grammars
def _strings(pt2: Path) -> tuple[list[str], list[str], list[str]]:
    """(every expr_str, every range-constraint key, every guard) in the archive."""
    root = _root(pt2)
    with zipfile.ZipFile(pt2) as zf:
        doc = json.loads(zf.read(f"{root}/models/model.json"))
    exprs, stack = [], [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            exprs += [node["expr_str"]] if "expr_str" in node else []
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return exprs, list(doc["range_constraints"]), doc["guards_code"]


def test_grammar_accepts_what_torch_export_writes(conv_pt2, shapes_pt2):
    exprs, keys, guards = [], [], []
    for pt2 in (conv_pt2, shapes_pt2, *sorted(FIXTURES.glob("*.pt2"))):
        e, k, g = _strings(pt2)
        exprs, keys, guards = exprs + e, keys + k, guards + g
    assert len(set(exprs)) > 10 and any("FloorDiv" in e or "Mod" in e for e in exprs)
    assert any("*" in k for k in keys) and guards  # a derived dim; shape guards
    for text in exprs + keys:
        parse_sym_expr(text)
    for text in guards:
        parse_guard(text)


GRAMMAR_ACCEPTS = [
    "s0", "2*s39", "(s0//2)", "Mod(s0, 3)", "Max(3, s0)", "Min(s0, u1)", "-s0 + 4", "s0**2", "1/s0", "s0/2",
    "Eq(s0, 1)", "Ne(s0, 2)", "s0 < 5", "(s0 > 2) & (s0 < 9)", "~(s0 >= 2)", "True", "oo", "CeilToInt(0.5*s0)",
    "FloorToInt(zf0)", "Mul(Integer(-1), Symbol('s0', positive=True, integer=True))",
    "FloorDiv(Add(Symbol('u0', integer=True), Integer(-3)), Integer(2))",
    "Pow(Symbol('s0', positive=True, integer=True), Rational(1, 2))", "Float('1.5', precision=53)",
    "StrictLessThan(Symbol('s1'), Integer(64))", "PowByNatural(Symbol('s0'), Integer(64))",
]
GRAMMAR_REFUSES = [
    "__import__('os').system('id')", "s0.__class__", "Symbol('os')", "Symbol('s0', evaluate=True)",
    "eval('1')", "Function('f')(s0)", "s0[0]", "s0; s1", "s0\n", "lambda: 0", "x", "'s0'", "s0 if s0 else s0",
    "Integer(" + "9" * 40 + ")", "(" * 60 + "s0" + ")" * 60, "Pow(Integer(10), Integer(10000000))",
    "10**10**9", "Pow(Pow(Mul(Integer(12345678901234567890), s0), 64), 64)", "LShift(1, 100000000)",
    "Float('1e999999')**s0 ** 99", "s0 < 1 < 2",
]


@pytest.mark.parametrize("text", GRAMMAR_ACCEPTS)
def test_grammar_accepts(text):
    parse_sym_expr(text)


@pytest.mark.parametrize("text", GRAMMAR_REFUSES)
def test_grammar_refuses(text):
    with pytest.raises(GrammarError):
        parse_sym_expr(text)


@pytest.mark.parametrize("text", [
    "__import__('os')", "L['x'].__class__", "L['x']._version", "open('f')", "L['x'].numpy()", "L",
    "L['x'].size()[0] == 2 ** 2 ** 99", "'a' * 999999999 == L['x']", "L['x'] == 1; 0", "math.os.getcwd()"])
def test_guard_grammar_refuses(text):
    with pytest.raises(GrammarError):
        parse_guard(text)


# ---------------------------------------------------------------- legitimate archives
def _converts(pt2: Path) -> None:
    import tensorbridge as tb

    model = tb.convert(str(pt2), to="onnx")  # validated: checker + parity against ep.module()
    assert model.graph.input and model.graph.node


@pytest.mark.parametrize("name", ["conv", "shapes", "fixture_cnn"])
def test_legitimate_dynamic_archives_load_and_convert(name, conv_pt2, shapes_pt2, private_tmp):
    pt2 = {"conv": conv_pt2, "shapes": shapes_pt2, "fixture_cnn": FIXTURES / "cnn.pt2"}[name]
    ep = load_pt2(pt2)
    assert list(private_tmp.iterdir()) == []  # loading writes nothing
    assert any(not isinstance(d, int) for n in ep.graph.nodes if n.op == "placeholder"
               and isinstance(n.meta.get("val"), torch.Tensor) for d in n.meta["val"].shape)
    _converts(pt2)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_legitimate_transformer_archives_load_and_convert(tmp_path):
    encoder = _save(Encoder(), (torch.randn(2, 5, 8),),
                    {"x": {0: Dim("batch", max=32), 1: Dim("seq", min=2, max=128)}}, tmp_path / "encoder.pt2")
    for pt2 in (encoder, FIXTURES / "transformer_block.pt2"):
        exprs, _, _ = _strings(pt2)
        assert exprs
        _converts(pt2)


# ---------------------------------------------------------------- .keras
def _keras_load(path: Path) -> Any:
    from tensorbridge.converters.tensorflow.capture import load_source

    return load_source(path)


def _keras_model() -> Any:
    import keras

    inp = keras.Input((4,))
    return keras.Model(inp, keras.layers.Dense(2)(keras.layers.Dense(3)(inp)))


def _edit_keras(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            zout.writestr(info, data)
    return dst


def test_keras_lambda_bytecode_is_refused_even_with_unsafe_mode_enabled(tmp_path, private_tmp, capfd):
    import keras
    from keras.src.saving.serialization_lib import in_safe_mode

    canary = tmp_path / "canary"
    inp = keras.Input((4,))
    # built from source so that the path is a constant in its bytecode, not a closure
    fn = eval(f"lambda t: t + float(len(str({_touch(canary)})))")  # noqa: S307
    out = keras.layers.Lambda(fn)(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    canary.unlink(missing_ok=True)  # building the model ran the lambda once
    for entry in private_tmp.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    previous = in_safe_mode()
    keras.config.enable_unsafe_deserialization()  # process-wide opt-out: must not apply to us
    try:
        message = _refused(path, canary, private_tmp, capfd, load=_keras_load)
    finally:
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("safe_mode_saving", previous)
    assert "lambda" in message.lower()


@pytest.mark.parametrize("where", ["package", "submodule"])
def test_keras_config_naming_a_foreign_module_is_refused(where, tmp_path, private_tmp, capfd, monkeypatch):
    canary = tmp_path / "canary"
    module = _canary_module(tmp_path, canary, monkeypatch)
    (tmp_path / module).mkdir()  # also importable as a package's submodule
    (tmp_path / module / "__init__.py").write_text(f"import pathlib\npathlib.Path({str(canary)!r}).touch()\n")
    _keras_model().save(tmp_path / "ok.keras")

    def edit(doc: dict[str, Any]) -> None:
        layer = doc["config"]["layers"][-1]
        layer["module"] = module if where == "package" else f"{module}.layers"
        layer["class_name"] = "E"
    bad = _edit_keras(tmp_path / "ok.keras", tmp_path / "foreign.keras", edit)
    assert module in _refused(bad, canary, private_tmp, capfd, load=_keras_load)


def test_keras_fixture_still_loads(private_tmp):
    model = _keras_load(FIXTURES / "keras_cnn.keras")
    assert model.weights


# ---------------------------------------------------------------- SavedModel
def test_savedmodel_with_unregistered_op_is_refused_and_loads_no_library(tmp_path, private_tmp, monkeypatch):
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    def no_library(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a custom op library was loaded")

    class Adder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x: Any) -> Any:
            return x + 1.0

    path = tmp_path / "custom_op_savedmodel"
    module = Adder()
    tf.saved_model.save(module, str(path), signatures=module.serve.get_concrete_function())
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    renamed = 0
    for fn in proto.meta_graphs[0].graph_def.library.function:
        for node in fn.node_def:
            if node.op == "AddV2":
                node.op, renamed = "TbCustomEvilOp", renamed + 1
    assert renamed
    (path / "saved_model.pb").write_bytes(proto.SerializeToString())
    before = sorted(p.name for p in path.rglob("*"))
    tmp_before = sorted(private_tmp.iterdir())  # autograph's files from tracing `serve` above
    monkeypatch.setattr(tf, "load_op_library", no_library)
    monkeypatch.setattr(tf, "load_library", no_library)
    with pytest.raises(ModelLoadError, match="TbCustomEvilOp") as info:
        _keras_load(path)
    assert type(info.value) is ModelLoadError
    assert sorted(p.name for p in path.rglob("*")) == before
    assert sorted(private_tmp.iterdir()) == tmp_before


def test_converting_a_savedmodel_writes_no_file(tmp_path, private_tmp):
    import tensorbridge as tb

    saved = tmp_path / "saved"
    shutil.copytree(FIXTURES / "keras_mlp_savedmodel", saved)
    before = {p: p.stat().st_mtime_ns for p in saved.rglob("*")}
    model = tb.convert(str(saved), to="onnx")
    assert model.graph.node
    assert {p: p.stat().st_mtime_ns for p in saved.rglob("*")} == before
    assert list(private_tmp.iterdir()) == []


def test_savedmodel_writing_a_file_while_loading_is_refused(tmp_path, private_tmp, capfd):
    """tf.saved_model.load runs resource initializers: this one writes the canary (it does,
    through plain TensorFlow). The check refuses it before TensorFlow reads the model."""
    import tensorflow as tf

    canary = tmp_path / "canary"

    class Resource(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self) -> Any:
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name=f"tb_{uuid.uuid4().hex}")

        def _initialize(self) -> None:
            tf.io.write_file(str(canary), "written while loading")
            tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)

    class Model(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.resource = Resource()

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x: Any) -> Any:
            return x * tf.raw_ops.ReadVariableOp(resource=self.resource.resource_handle, dtype=tf.float32)

    model, path = Model(), tmp_path / "writer_savedmodel"
    tf.saved_model.save(model, str(path), signatures=model.serve.get_concrete_function())
    canary.unlink(missing_ok=True)  # creating the resource here may have run the initializer
    for entry in private_tmp.iterdir():  # autograph's files from tracing `serve`
        entry.unlink()
    assert "WriteFile" in _refused(path, canary, private_tmp, capfd, load=_keras_load)
