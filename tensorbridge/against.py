"""``tensorbridge check a.onnx --against b.onnx``: does model B compute what model A does?

The question Polygraphy answers for an optimised, quantised or re-exported copy of a model.
A is the reference (run on onnxruntime, or the built-in runtime where onnxruntime cannot
load it); B is checked as a produced artifact is: onnx.checker's full check on its bytes,
then run on the built-in runtime and on onnxruntime, on the given inputs and on inputs
generated from A's input types. The tolerance is calibrated on B's own float32 noise floor,
as for a conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.runtime.parity.report import ParityReport


def check_against(a: str | Path, b: str | Path, inputs: Any = None, *, rtol: float | None = None,
                  atol: float | None = None, generated: bool = True,
                  progress: Any = None) -> ParityReport:
    """Compare ONNX model ``b`` with ONNX model ``a`` (the reference)."""
    import onnx

    from tensorbridge.check import validate
    from tensorbridge.converters.onnx import to_ir
    from tensorbridge.route import Conversion
    from tensorbridge.sources import path_kind

    for p in (a, b):
        if not Path(p).is_file():
            raise TensorbridgeError(f"check --against: no such file {str(p)!r}")
        if path_kind(Path(p)) != "onnx":
            raise TensorbridgeError(f"check --against: {p} is not an ONNX file; --against compares "
                                    "two ONNX models")
    graph_a, graph_b = to_ir(a), to_ir(b)
    _same_signature(graph_a, graph_b, a, b)
    try:
        model_b = onnx.load(str(b))
    except Exception as e:  # protobuf's DecodeError and OSError: to_ir above read it already
        raise TensorbridgeError(f"{b}: cannot be read again ({e})") from e
    conv = Conversion("onnx", "onnx", str(a), f"{Path(b).name} against {Path(a).name}", graph_a,
                      artifact=model_b)
    report = validate(conv, inputs, generated=generated, localize=False, rtol=rtol, atol=atol,
                      progress=progress)
    report.source, report.reference = str(b), f"{a} on {report.reference}"
    return report


def _same_signature(ga: Any, gb: Any, a: Any, b: Any) -> None:
    """B takes A's inputs (by name and order, dtype and rank) and gives as many outputs."""
    ins_a = [v for v in ga.inputs if not v.role.is_initializer]
    ins_b = [v for v in gb.inputs if not v.role.is_initializer]
    problems = []
    if [v.name for v in ins_a] != [v.name for v in ins_b]:
        problems.append(f"{a} takes {[v.name for v in ins_a]}, {b} takes {[v.name for v in ins_b]}")
    for v, w in zip(ins_a, ins_b):
        if v.name == w.name and (v.type.dtype != w.type.dtype
                                 or len(v.type.shape or ()) != len(w.type.shape or ())):
            problems.append(f"input {v.name!r}: {v.type} in {a}, {w.type} in {b}")
    if len(ga.outputs) != len(gb.outputs):
        problems.append(f"{a} has {len(ga.outputs)} output(s), {b} has {len(gb.outputs)}")
    if problems:
        raise TensorbridgeError("check --against: the two models do not have the same signature: "
                                + "; ".join(problems))
