"""Check a ``.pt2`` archive before torch reads any of it.

``torch.export.load`` trusts its input. Reading its deserializer (torch/_export/serde/
serialize.py, torch/export/pt2_archive/_package.py, torch/utils/_pytree.py,
torch/export/_unlift.py) shows these ways a crafted archive runs code:

- every ``expr_str`` (symbolic sizes, strides, offsets, SymInt/SymBool/SymFloat values) goes
  to ``sympy.sympify``, which is Python ``eval``;
- ``guards_code`` strings are pasted into Python source that ``ep.module()`` ``exec``\\s, and
  so are graph input names, string inputs and pytree dict keys (through the guards and the
  generated ``forward``); torch.fx pastes node names and state_dict names into the
  ``forward`` source it execs;
- node ``target`` / ``as_operator`` strings resolve to *any* attribute path under ``torch``,
  ``math`` or ``_operator`` (``torch.os.system`` included) that later gets called;
- a pytree context ``{"__enum__": ...}`` or a ``collections.defaultdict`` spec imports any
  module by name;
- ``data/aotinductor/**`` is extracted to the temp folder and its ``.so`` ``dlopen``\\ed;
  ``custom_obj_*`` / ``opaque_obj_*`` constants and ``use_pickle`` payloads are unpickled;
  the legacy layout's weights are whole pickles.

:func:`check_pt2` decides from the zip's member list and the JSON alone, in pure Python:
every member must be one torch.export.save writes for a plain program, every string that
torch evaluates must parse in the whitelisted grammars of :mod:`.sym_grammar`, and the one pickle left (the
sample inputs, a ``torch.save`` of tensors) may name only tensor-rebuilding globals.
Anything else is a :class:`ModelLoadError` naming the member, the field and the text.
"""

from __future__ import annotations

import io
import json
import pickletools
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

from tensorbridge.converters.pytorch.sym_grammar import (
    SAFE_KEY,
    GrammarError,
    parse_guard,
    parse_sym_expr,
)
from tensorbridge.ir.errors import ModelLoadError

HINT = ("The archive may be hostile: tensorbridge loads only what torch.export.save writes for a "
        "plain program (graph JSON, raw tensor data, tensor-only sample inputs). Re-export it "
        "with torch.export.save from a model you trust")

_MAX_JSON_BYTES = 1 << 30  # a declared size above this is refused before it is read
_MAX_PICKLE_BYTES = 1 << 28

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FQN = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_CALL_FQN = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*(?:@\d+)?")  # "block@1": 2nd call
_MODEL = r"([A-Za-z0-9_]+)"


# ============================================================ the archive
def check_pt2(path: str, f: IO[bytes]) -> None:
    """Raise :class:`ModelLoadError` unless ``f`` holds a .pt2 that is safe to hand to
    ``torch.export.load``. Reads only and writes nothing; ``f`` may be left at any position."""
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise ModelLoadError(path, f"not a zip archive ({e})", "A .pt2 is written by torch.export.save") from e
    with zf:
        members = _members(path, zf)
        programs = _classify(path, members)
        for member in ("archive_format", "archive_version"):
            if member not in members:
                raise ModelLoadError(path, f"no {member!r} member: not a torch.export archive",
                                     "Re-save it with torch.export.save")
        _expect_text(path, zf, members, "archive_format", "pt2")
        _expect_text(path, zf, members, "archive_version", "0")
        if "model" not in programs:
            raise ModelLoadError(path, "no models/model.json in the archive", "Re-save it with torch.export.save")
        for name in programs:
            _check_program(path, zf, members, name)


def _members(path: str, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Member names without the archive's root folder. torch's zip reader (miniz) looks
    names up case-insensitively and takes the last of duplicates, so both are refused: the
    member we check must be the member torch reads."""
    infos = zf.infolist()
    if not infos:
        raise ModelLoadError(path, "empty zip archive", "Re-save it with torch.export.save")
    root = infos[0].filename.split("/", 1)[0]
    out: dict[str, zipfile.ZipInfo] = {}
    folded: set[str] = set()
    for info in infos:
        name = info.filename
        head, _, rel = name.partition("/")
        if head != root or not rel or not _plain_path(name):
            raise ModelLoadError(path, f"member {name!r} is outside the archive's folder {root + '/'!r} "
                                 "or has an unsafe path", HINT)
        if name.lower() in folded:
            raise ModelLoadError(path, f"member {name!r} appears twice (names compared without case)", HINT)
        folded.add(name.lower())
        if info.flag_bits & 0x1:
            raise ModelLoadError(path, f"member {name!r} is encrypted", HINT)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelLoadError(path, f"member {name!r} uses zip compression method {info.compress_type}",
                                 "torch.export.save stores members uncompressed")
        out[rel] = info
    return out


def _plain_path(name: str) -> bool:
    parts = name.split("/")
    return (not name.startswith("/") and "\\" not in name and ":" not in name
            and all(p not in ("", ".", "..") for p in parts)
            and all(c.isprintable() for c in name))


# member prefix -> why it is refused (checked before the allowed patterns, for a clear message)
_REFUSED_PREFIXES = (
    ("data/aotinductor/", "AOTInductor compiled code (a native library that would be extracted and loaded)"),
    ("data/executorch/", "an ExecuTorch program"),
    ("data/mtia", "MTIA device code"),
    ("xl_model_weights/", "externally managed weights"),
    ("data/constants/custom_obj_", "a TorchBind custom object (unpickled by C++, runs its class's code)"),
    ("data/constants/opaque_obj_", "a pickled opaque Python object"),
    ("serialized_", "the legacy (pre-2.6) .pt2 layout, whose weights are whole pickles"),
)
_REFUSED_SUFFIXES = (".so", ".dll", ".dylib", ".pyd", ".py", ".pyc", ".cpp", ".cu", ".cubin", ".ptx",
                     ".pkl", ".pickle")
_ALLOWED = (
    re.compile(r"archive_format|archive_version|byteorder|version|\.data/version|\.data/serialization_id"),
    re.compile(r"extra/[^/]+"),  # read as text, never evaluated
    re.compile(r"data/weights/weight_\d+|data/constants/tensor_\d+"),  # raw tensor bytes
    re.compile(rf"data/weights/{_MODEL}_weights_config\.json"),
    re.compile(rf"data/constants/{_MODEL}_constants_config\.json"),
    re.compile(rf"data/sample_inputs/{_MODEL}\.pt"),
)
_PROGRAM = re.compile(rf"models/{_MODEL}\.json")


def _classify(path: str, members: dict[str, zipfile.ZipInfo]) -> list[str]:
    """The program names (``models/<name>.json``); every other member must be one that a
    plain torch.export.save writes."""
    programs = []
    for rel in members:
        for prefix, why in _REFUSED_PREFIXES:
            if rel.startswith(prefix):
                raise ModelLoadError(path, f"member {rel!r} is {why}; refused before anything is extracted", HINT)
        if rel.lower().endswith(_REFUSED_SUFFIXES):
            raise ModelLoadError(path, f"member {rel!r} is code or a pickle; refused before anything is extracted",
                                 HINT)
        program = _PROGRAM.fullmatch(rel)
        if program:
            programs.append(program.group(1))
        elif not any(p.fullmatch(rel) for p in _ALLOWED):
            raise ModelLoadError(path, f"unexpected member {rel!r}", HINT)
    return programs


def _read(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise ModelLoadError(path, f"member {info.filename!r} declares {info.file_size} bytes "
                             f"(limit {limit})", HINT)
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise ModelLoadError(path, f"member {info.filename!r} is unreadable ({e})",
                             "The file is truncated or corrupt; re-save it with torch.export.save") from e
    if len(data) > limit:
        raise ModelLoadError(path, f"member {info.filename!r} is larger than {limit} bytes", HINT)
    return data


def _expect_text(path: str, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], rel: str,
                 expected: str) -> None:
    got = _read(path, zf, members[rel], 64)
    if got != expected.encode():
        raise ModelLoadError(path, f"{rel} is {got[:20]!r}, expected {expected!r}",
                             "This archive was not written by a torch.export.save this torch can read")


def _load_json(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    data = _read(path, zf, info, _MAX_JSON_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(path, f"{info.filename} is not valid JSON ({type(e).__name__}: {str(e)[:200]})",
                             "The file is truncated or corrupt; re-save it with torch.export.save") from e


def _check_program(path: str, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str) -> None:
    needed = {"program": f"models/{name}.json",
              "weights": f"data/weights/{name}_weights_config.json",
              "constants": f"data/constants/{name}_constants_config.json",
              "sample inputs": f"data/sample_inputs/{name}.pt"}
    for what, rel in needed.items():
        if rel not in members:
            raise ModelLoadError(path, f"program {name!r} has no {what} ({rel})", "Re-save it with torch.export.save")
    where = _Where(path, needed["program"])
    program = _load_json(path, zf, members[needed["program"]])
    if not isinstance(program, dict) or not isinstance(program.get("graph_module"), dict):
        where.fail((), program, "is not a torch.export program (no graph_module)")
    _check_program_json(where, program)
    _check_payload_config(_Where(path, needed["weights"]), _load_json(path, zf, members[needed["weights"]]),
                          "data/weights/", "weight_", members)
    _check_payload_config(_Where(path, needed["constants"]), _load_json(path, zf, members[needed["constants"]]),
                          "data/constants/", "tensor_", members)
    check_tensor_pickle(path, needed["sample inputs"],
                        _read(path, zf, members[needed["sample inputs"]], _MAX_PICKLE_BYTES))


class _Where:
    """Names a JSON field of one archive member in errors."""

    def __init__(self, path: str, member: str) -> None:
        self.path = path
        self.member = member

    def fail(self, keys: tuple[Any, ...], value: Any, problem: str) -> NoReturn:
        field = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".") or "<root>"
        text = value if isinstance(value, str) else json.dumps(value)[:200]
        shown = repr(text) if len(text) <= 160 else repr(text[:160]) + "..."
        raise ModelLoadError(self.path, f"{self.member}: field {field} = {shown} {problem}", HINT)


# ============================================================ program JSON
def _walk(doc: Any) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """(path, key, value) for every entry of every dict and list in ``doc``, iteratively."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        keys, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            yield keys + (k,), k, v
            if isinstance(v, dict | list):
                stack.append((keys + (k,), v))


_NAME_KEYS = {"name", "as_name"}  # node / value / argument names: pasted into generated code
_FQN_KEYS = {"parameter_name", "buffer_name", "tensor_constant_name", "user_input_name", "fqn"}
_VALUE_TABLES = {"tensor_values", "sym_int_values", "sym_bool_values", "sym_float_values"}
_CUSTOM_OBJECT_KEYS = {"as_custom_obj", "custom_obj", "custom_obj_name", "class_fqn"}


def _check_program_json(where: _Where, program: dict[str, Any]) -> None:
    _check_range_constraints(where, program.get("range_constraints", {}))
    guards = program.get("guards_code", [])
    if not isinstance(guards, list):
        where.fail(("guards_code",), guards, "is not a list")
    for i, guard in enumerate(guards):
        _check_text(where, ("guards_code", i), guard, parse_guard, "is not a shape guard")
    seen: set[str] = set()  # the same expression appears many times: parse it once
    for keys, key, value in _walk(program["graph_module"]):
        keys = ("graph_module",) + keys
        if key == "expr_str":
            if not (isinstance(value, str) and value in seen):
                _check_text(where, keys, value, parse_sym_expr, "is not a symbolic shape expression")
                seen.add(value)
        elif key == "hint" and value is not None:
            _check_hint(where, keys, value)
        elif key in ("target", "as_operator"):
            _check_target(where, keys, value)
        elif key in ("in_spec", "out_spec"):
            _check_treespec(where, keys, value)
        elif key in _NAME_KEYS:
            _check_pattern(where, keys, value, _IDENT, "is not a Python identifier", empty_ok=True)
        elif key in _FQN_KEYS:
            _check_pattern(where, keys, value, _CALL_FQN if key == "fqn" else _FQN, "is not a dotted module path",
                           empty_ok=key == "fqn")
        elif key == "forward_arg_names" and value is not None:
            for i, arg in enumerate(value if isinstance(value, list) else [value]):
                _check_pattern(where, keys + (i,), arg, _IDENT, "is not a Python identifier")
        elif key in _CUSTOM_OBJECT_KEYS or (key == "custom_obj_values" and value):
            where.fail(keys, value, "is a custom object (TorchBind / script object); tensorbridge loads "
                       "only tensors")
        elif key in _VALUE_TABLES and isinstance(value, dict):
            for name in value:
                _check_pattern(where, keys + (name,), name, _IDENT, "is not a Python identifier")
        elif key == "metadata" and isinstance(value, dict):
            _check_metadata(where, keys, value)
    _check_graph_inputs(where, program["graph_module"])


def _check_text(where: _Where, keys: tuple[Any, ...], value: Any, parse: Callable[[str], None],
                problem: str) -> None:
    if not isinstance(value, str):
        where.fail(keys, value, f"{problem}: not a string")
    try:
        parse(value)
    except GrammarError as e:
        where.fail(keys, value, f"{problem} ({e})")


def _check_pattern(where: _Where, keys: tuple[Any, ...], value: Any, pattern: re.Pattern[str], problem: str,
                   empty_ok: bool = False) -> None:
    if value is None and empty_ok:
        return
    if not isinstance(value, str) or not (pattern.fullmatch(value) or (empty_ok and value == "")):
        where.fail(keys, value, problem)


def _check_range_constraints(where: _Where, ranges: Any) -> None:
    if not isinstance(ranges, dict):
        where.fail(("range_constraints",), ranges, "is not a mapping")
    for sym, bounds in ranges.items():
        keys = ("range_constraints", sym)
        _check_text(where, keys, sym, parse_sym_expr, "is not a symbolic shape expression")
        if not isinstance(bounds, dict) or set(bounds) - {"min_val", "max_val"}:
            where.fail(keys, bounds, "is not {min_val, max_val}")
        for bound in ("min_val", "max_val"):
            v = bounds.get(bound)
            if v is not None and (type(v) is not int or abs(v) >= 1 << 63):
                where.fail(keys + (bound,), v, "is not an int64 or null")


def _check_hint(where: _Where, keys: tuple[Any, ...], hint: Any) -> None:
    types = {"as_int": (int,), "as_float": (int, float), "as_bool": (bool,)}
    if not isinstance(hint, dict) or len(hint) != 1:
        where.fail(keys, hint, "is not a single-valued shape hint")
    (kind, v), = hint.items()
    if kind not in types or not isinstance(v, types[kind]) or (kind != "as_bool" and isinstance(v, bool)):
        where.fail(keys, hint, "is not an int, float or bool hint")


def _check_graph_inputs(where: _Where, graph_module: dict[str, Any]) -> None:
    """A string graph input becomes a guard ``L['x'] == '<value>'`` that ep.module() execs."""
    graph = graph_module.get("graph")
    inputs = graph.get("inputs", []) if isinstance(graph, dict) else []
    for i, arg in enumerate(inputs if isinstance(inputs, list) else []):
        if isinstance(arg, dict) and "as_string" in arg:
            _check_pattern(where, ("graph_module", "graph", "inputs", i, "as_string"), arg["as_string"],
                           SAFE_KEY, "is a string input with quotes or control characters")


def _check_metadata(where: _Where, keys: tuple[Any, ...], metadata: dict[str, Any]) -> None:
    """``source_fn_stack`` names functions torch resolves by attribute path."""
    stack = metadata.get("source_fn_stack")
    if stack is None:
        return
    if not isinstance(stack, str):
        where.fail(keys + ("source_fn_stack",), stack, "is not a string")
    for item in stack.split(";"):
        _, _, fn = item.rpartition(",")
        if not _dotted_path(fn):
            where.fail(keys + ("source_fn_stack",), stack, "names something other than a dotted function path")


def _dotted_path(text: str) -> bool:
    parts = text.split(".")
    return all(_IDENT.fullmatch(p) and not p.startswith("__") for p in parts)


# ------------------------------------------------------------ node targets
_SYM_OP_TARGETS = frozenset(
    [f"_operator.{op}" for op in ("add", "sub", "mul", "floordiv", "mod", "pow", "truediv", "neg", "pos",
                                  "eq", "ne", "le", "ge", "lt", "gt", "and_", "or_", "lshift", "rshift",
                                  "getitem")]
    + ["math.trunc", "math.floor", "math.ceil"]
    + [f"torch.{fn}" for fn in ("sym_int", "sym_float", "sym_not", "sym_ite", "sym_max", "sym_min",
                                "sym_sum", "_sym_sqrt")])
_OP_TARGET = re.compile(r"torch\.ops\.([a-z_][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")
_HOP_TARGET = re.compile(r"torch\.ops\.higher_order\.[a-z_][a-z0-9_]*")
_OPS_METHODS = {"load_library", "import_module", "loaded_libraries", "higher_order"}
# ATen's own operators spelled with dunders (aten::__and__.Tensor: a bool mask's `&`); any
# other dunder name would reach Python attributes (``__class__``), not an operator
_ATEN_DUNDER_OPS = frozenset(f"__{i}{op}__" for op in ("and", "or", "xor", "lshift", "rshift")
                             for i in ("", "i"))


def _check_target(where: _Where, keys: tuple[Any, ...], target: Any) -> None:
    """An operator overload (``torch.ops.<ns>.<op>.<overload>``), a higher-order op, or one of
    the symbolic-int helpers torch.export emits. torch resolves any other string to whatever
    attribute path it names under torch/math/_operator, e.g. ``torch.os.system``."""
    if not isinstance(target, str):
        where.fail(keys, target, "is not an operator name")
    if target in _SYM_OP_TARGETS or _HOP_TARGET.fullmatch(target):
        return
    m = _OP_TARGET.fullmatch(target)
    if m and m.group(1) not in _OPS_METHODS and not m.group(3).startswith("__") and (
            not m.group(2).startswith("__") or (m.group(1) == "aten" and m.group(2) in _ATEN_DUNDER_OPS)):
        return
    where.fail(keys, target, "is not an operator (expected torch.ops.<namespace>.<op>.<overload>)")


# ------------------------------------------------------------ pytree specs
_TREESPEC_TYPES = {"builtins.tuple", "builtins.list", "builtins.dict", "collections.OrderedDict",
                   "collections.namedtuple", "torch.fx.immutable_collections.immutable_list",
                   "torch.fx.immutable_collections.immutable_dict"}
_DICT_TYPES = {"builtins.dict", "collections.OrderedDict", "torch.fx.immutable_collections.immutable_dict"}
# transformers' output dataclasses, as their pytree registration names them: a name that
# capture.load_pt2 resolves only against classes transformers itself registered, never by import
MODEL_OUTPUT_TYPE = re.compile(r"transformers\.(modeling_outputs|models\.[a-z0-9_]+\.modeling_[a-z0-9_]+)"
                               r"\.[A-Z][A-Za-z0-9]*Output[A-Za-z0-9]*")


def _check_treespec(where: _Where, keys: tuple[Any, ...], text: Any) -> None:
    """The input/output structure. Contexts are JSON that torch decodes with a hook importing
    any module named in ``{"__enum__": ...}``; ``defaultdict`` specs import their factory's
    module; dict keys are pasted into the generated guards."""
    try:
        protocol, spec = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        where.fail(keys, text, "is not a pytree spec")
    if protocol != 1:
        where.fail(keys, text, "is not a protocol-1 pytree spec")
    stack = [spec]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or set(node) != {"type", "context", "children_spec"}:
            where.fail(keys, text, "is not a pytree spec")
        kind, context, children = node["type"], node["context"], node["children_spec"]
        if not isinstance(children, list):
            where.fail(keys, text, "is not a pytree spec")
        if kind is None:
            if context is not None or children:
                where.fail(keys, text, "has a leaf with children")
            continue
        if kind not in _TREESPEC_TYPES and not MODEL_OUTPUT_TYPE.fullmatch(str(kind)):
            where.fail(keys, text, f"has container type {kind!r}; only tuples, lists, dicts, registered "
                       "namedtuples and transformers ModelOutputs are loaded")
        if not _treespec_context_ok(kind, context):
            where.fail(keys, text, f"has a {kind} context other than plain keys")
        stack.extend(children)


def _treespec_context_ok(kind: str, context: Any) -> bool:
    if kind == "collections.namedtuple":  # a registered type's name, looked up, never imported
        return isinstance(context, str) and _FQN.fullmatch(context) is not None
    if not isinstance(context, str):
        return False
    try:
        decoded = json.loads(context)
    except (ValueError, RecursionError):
        return False
    if kind in _DICT_TYPES or MODEL_OUTPUT_TYPE.fullmatch(kind):  # a ModelOutput's context is its keys
        return isinstance(decoded, list) and all(
            (isinstance(k, str) and SAFE_KEY.fullmatch(k)) or (type(k) is int) for k in decoded)
    return decoded is None


# ------------------------------------------------------------ payloads
def _check_payload_config(where: _Where, config: Any, folder: str, prefix: str,
                          members: dict[str, zipfile.ZipInfo]) -> None:
    """Weights and constants must be raw tensor bytes: ``use_pickle`` payloads are
    unpickled with ``weights_only=False``."""
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        where.fail((), config, "is not a payload config")
    for fqn, meta in entries.items():
        keys = ("config", fqn)
        _check_pattern(where, keys, fqn, _FQN, "is not a dotted state_dict name")
        if not isinstance(meta, dict):
            where.fail(keys, meta, "is not a payload entry")
        if meta.get("use_pickle") is not False:
            where.fail(keys + ("use_pickle",), meta.get("use_pickle"),
                       "marks a pickled payload (tensor subclass or Python object); only plain tensors load")
        name = meta.get("path_name")
        if not (isinstance(name, str) and re.fullmatch(rf"{prefix}\d+", name) and folder + name in members):
            where.fail(keys + ("path_name",), name, f"is not a {prefix}<n> member of {folder}")
        if not isinstance(meta.get("tensor_meta"), dict):
            where.fail(keys + ("tensor_meta",), meta.get("tensor_meta"), "is not tensor metadata")
        for sub, key, value in _walk(meta["tensor_meta"]):
            if key == "expr_str":
                where.fail(keys + ("tensor_meta",) + sub, value, "is symbolic; stored tensors have static shapes")


# torch.save of example inputs: a zip holding data.pkl (protocol 2) and raw storages
_TENSOR_GLOBALS = frozenset(
    {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
     ("collections", "OrderedDict"), ("torch", "device"), ("torch", "Size")}
    | {("torch", f"{t}Storage") for t in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short",
                                           "Char", "Byte", "Bool", "ComplexFloat", "ComplexDouble")})
_PICKLE_MEMBERS = re.compile(r"data\.pkl|data/\d+|byteorder|version|\.format_version|\.storage_alignment"
                             r"|\.data/version|\.data/serialization_id")
_CLASS_OPCODES = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}


def check_tensor_pickle(path: str, member: str, data: bytes) -> None:
    """``data`` is a torch.save archive whose pickle names only tensor-rebuilding globals."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        names = inner.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as e:
        raise ModelLoadError(path, f"{member} is not a torch.save archive of tensors ({e})", HINT) from e
    root = names[0].split("/", 1)[0] if names else ""
    if len({n.lower() for n in names}) != len(names):
        raise ModelLoadError(path, f"{member}: a member of the sample inputs appears twice", HINT)
    for name in names:
        head, _, rel = name.partition("/")
        if head != root or not _plain_path(name) or not _PICKLE_MEMBERS.fullmatch(rel):
            raise ModelLoadError(path, f"{member}: unexpected member {name!r} in the sample inputs", HINT)
    if f"{root}/data.pkl" not in names:
        raise ModelLoadError(path, f"{member}: no data.pkl in the sample inputs", HINT)
    info = inner.getinfo(f"{root}/data.pkl")
    if info.file_size > _MAX_PICKLE_BYTES:
        raise ModelLoadError(path, f"{member}: data.pkl declares {info.file_size} bytes", HINT)
    _scan_pickle(path, member, inner.read(info))


def _scan_pickle(path: str, member: str, data: bytes) -> None:
    """Walk the opcodes without executing any. Every global must be a tensor-rebuilding one.
    STACK_GLOBAL takes its names from the stack, so it must directly follow two string
    pushes (or memo fetches of strings) for the names to be known."""
    other = object()
    memo: dict[int, Any] = {}
    recent: list[Any] = []  # values pushed since the last opcode that was not a plain push
    try:
        for op, arg, _ in pickletools.genops(data):
            name = op.name
            if name in _CLASS_OPCODES:
                _refuse_pickle(path, member, f"opcode {name} (constructs an arbitrary class)")
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                module, qual = (str(arg).split(" ", 1) + [""])[:2] if name == "GLOBAL" else _stack_names(recent)
                if (module, qual) not in _TENSOR_GLOBALS:
                    _refuse_pickle(path, member, f"global {module}.{qual}")
                recent = [other]
            elif name in _MEMO_PUTS:
                memo[len(memo) if name == "MEMOIZE" else int(arg or 0)] = recent[-1] if recent else other
            elif name in _MEMO_GETS:
                recent.append(memo.get(int(arg or 0), other))
            elif not op.stack_before and len(op.stack_after) == 1:
                recent.append(arg if isinstance(arg, str) and "UNICODE" in name else other)
            else:
                recent = []
    except (ValueError, EOFError) as e:
        raise ModelLoadError(path, f"{member}: malformed pickle ({e})", HINT) from e


def _stack_names(recent: list[Any]) -> tuple[str, str]:
    if len(recent) >= 2 and isinstance(recent[-2], str) and isinstance(recent[-1], str):
        return recent[-2], recent[-1]
    return "<computed>", "<computed>"


def _refuse_pickle(path: str, member: str, what: str) -> NoReturn:
    raise ModelLoadError(path, f"{member}: the sample-input pickle uses {what}; only tensors are loaded", HINT)
