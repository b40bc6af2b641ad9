"""Validation of what a conversion produced, and ``tb.check`` (the same validation with the
full report).

The source runs in its own framework (PyTorch *eager*, not the ExportedProgram; Keras /
TensorFlow eagerly; for an ONNX source onnxruntime, or the built-in runtime where
onnxruntime cannot load it). What was produced runs as the user gets it: the ONNX artifact
re-read from its serialized bytes (after ``onnx.checker`` full_check on them) on the
built-in runtime, and on onnxruntime when installed; a migrated module as the emitted
framework module. Both sides see the same inputs: the example inputs, plus (``generated``)
other random draws, zeros, negatives and large magnitudes. Tolerances derive from the
float32 noise floor of the graph itself. On a mismatch one more run of each side captures
every layer's output to name the first diverging layer.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.inputs import RESIZED, input_sets, with_kwargs
from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.reference import (
    Reference,
    Runners,
    noise_tolerance,
    same_arrays,
    set_tolerance,
    set_tolerances,
)
from tensorbridge.route import Conversion, build, describe, emit_target
from tensorbridge.runtime.parity.compare import compare_output, default_tolerance
from tensorbridge.runtime.parity.report import ParityReport, Tolerance

Progress = Callable[[str, int, int], None]


class ParityError(TensorbridgeError):
    """A conversion produced a model that does not compute what its source computes (or an
    ONNX file that onnx's checker refuses). ``report`` is the full :class:`ParityReport`."""

    def __init__(self, report: ParityReport) -> None:
        self.report = report
        super().__init__(_parity_message(report))


def check(source: Any, example_inputs: Any = None, to: str = "onnx", *, inputs: Any = None,
          opset: int | None = None, rtol: float | None = None, atol: float | None = None,
          dynamic_shapes: Any = None, generated: bool = True, localize: bool = True,
          progress: Progress | None = None, kwargs: dict[str, Any] | None = None,
          input_names: list[str] | None = None, output_names: list[str] | None = None,
          inputs_as_nchw: list[str] | None = None) -> ParityReport:
    """Convert ``source`` as :func:`tensorbridge.convert` does (same route, same passes, same
    ``opset``) and compare the result with the source; see the module docstring.
    ``inputs`` replaces the example inputs as the base input set (``example_inputs`` still
    drive the capture). ``progress(step, done, total)`` is called as input sets are checked.
    ``kwargs``, ``input_names``, ``output_names``: as in :func:`tensorbridge.load`;
    ``inputs_as_nchw`` as in :func:`tensorbridge.convert`."""
    from tensorbridge.io_names import apply_io_names

    example_inputs = with_kwargs(example_inputs, kwargs)
    conv = build(source, example_inputs, to, opset=opset, dynamic_shapes=dynamic_shapes,
                 inputs_as_nchw=inputs_as_nchw)
    apply_io_names(conv.graph, input_names, output_names)
    given = inputs if inputs is not None else example_inputs
    return validate(conv, given, generated=generated, localize=localize, rtol=rtol, atol=atol,
                    progress=progress)


def validate(conv: Conversion, given: Any = None, *, generated: bool = False, localize: bool = True,
             rtol: float | None = None, atol: float | None = None, tolerance: Tolerance | None = None,
             own_tolerances: dict[str, Tolerance] | None = None,
             progress: Progress | None = None) -> ParityReport:
    """Emit ``conv``'s target (unless already emitted) and compare it with the source on
    ``given`` inputs (plus generated ones). The report's ``ok`` is the verdict.

    Called on a conversion whose artifact is already emitted (e.g. replaced by the file
    that was written, loaded back), pass the ``tolerance`` of the first validation: the IR
    it was derived from may have been consumed by emission, and its ``set_tolerances`` as
    ``own_tolerances`` (the generated sets it judged at their own noise floor)."""
    t0 = time.perf_counter()
    reference = Reference(conv)
    base = reference.base_feeds(given)
    output_names = [v.name for v in conv.graph.outputs]  # before emission may consume the graph
    sets = input_sets(conv.graph, base) if generated else {"example": base}
    report = ParityReport(conv.name, conv.target, reference.name, True, Tolerance(0, 0, ""),
                          input_sets=list(sets), op_histogram=_histogram(conv.graph),
                          model=model_name(conv))
    if tolerance is not None:
        report.tolerance = tolerance
    own: dict[str, Tolerance] = dict(own_tolerances or {})  # sets noisier than the example: their own floor
    if conv.target != "onnx" and conv.artifact is None:  # the IR, before emission may consume it
        ir_runners = Runners(conv.graph)
        report.tolerance = noise_tolerance(ir_runners, base, rtol, atol)
        own = set_tolerances(ir_runners, sets, report.tolerance, rtol) if generated else {}
        _compare_ir(report, reference, ir_runners, base, conv, localize)
        if generated and rtol is None and report.ok and conv.kind == "pytorch":
            ir_runners.check_layers(report, reference.source, base)
    emit_s = 0.0
    if conv.artifact is None:
        emit_target(conv)
        emit_s = conv.timings["emit_s"]
    runners = Runners.for_artifact(conv, report)
    own_floor = False  # ONNX: each generated set's own floor, measured just before it is compared
    if tolerance is None and conv.target == "onnx" and runners.graph is not None:
        report.tolerance = noise_tolerance(runners, base, rtol, atol)
        own_floor = generated
    if not report.tolerance.reason:  # nothing to calibrate on: the dtype's default
        report.tolerance = default_tolerance("float32")
    if runners.graph is not None or runners.emitted is not None:
        _compare_sets(report, reference, runners, sets, progress, second_runtime=generated,
                      names=output_names, own=own, own_floor=own_floor and rtol is None)
    if generated and rtol is None and report.ok and conv.kind == "pytorch" and conv.target == "onnx":
        if progress is not None:
            progress("checking every layer", len(sets), len(sets) + 1)
        runners.check_layers(report, reference.source, base)
    if conv.target != "onnx":
        _compare_structure(report, conv)
    if not report.ok and localize and report.first_divergence is None and runners.can_localize(conv):
        if progress is not None:
            progress("locating the first divergence", len(sets), len(sets) + 1)
        failing = next((c.input_set for c in report.comparisons if not c.ok), "example")
        runners.localize(report, conv.kind, reference.source, reference.source_feeds(sets[failing]))
    report.timings.update(conv.timings)  # emission happened above
    report.timings["convert_s"] = conv.timings.get("lower_s", 0.0) + conv.timings.get("emit_s", 0.0)
    report.timings["validate_s"] = time.perf_counter() - t0 - emit_s
    report.timings["total_s"] = report.timings["convert_s"] + report.timings["validate_s"]
    return report


def _compare_ir(report: ParityReport, reference: Reference, ir: Runners, feeds: list[np.ndarray],
                conv: Conversion, localize: bool) -> None:
    """Before a migration is emitted: does the IR itself compute the source's outputs? If
    not, the front-end or a pass is at fault, and the divergence is located in the IR now
    (emission may rewrite the graph)."""
    expected = reference.run(feeds)
    outs = ir.ir(feeds)
    names = [v.name for v in conv.graph.outputs]
    bad = [compare_output("example", "tensorbridge (IR)", names[i], got, exp, report.tolerance)
           for i, (got, exp) in enumerate(zip(outs, expected))]
    bad = [c for c in bad if not c.ok]
    if not bad:
        return
    report.comparisons.extend(bad)
    report.ok = False
    report.errors.append("the IR already differs from the source before emission: a front-end "
                         "translation or an IR pass is wrong, not the emitter")
    if localize and conv.kind in ("pytorch", "tensorflow"):
        ir.localize(report, conv.kind, reference.source, feeds)


def _compare_sets(report: ParityReport, reference: Reference, runners: Runners,
                  sets: dict[str, list[np.ndarray]], progress: Progress | None, *,
                  second_runtime: bool, names: list[str], own: dict[str, Tolerance],
                  own_floor: bool) -> None:
    """Each set against the source; a set in ``own`` (or, with ``own_floor``, whose own noise
    floor measured now is higher) is judged at its own tolerance, which the notes name."""
    for done, (set_name, feeds) in enumerate(sets.items()):
        if progress is not None:
            progress(f"inputs {set_name}", done, len(sets))
        try:
            expected = reference.run(feeds)
        except Exception as e:  # the source itself refuses the second size of its dynamic dims
            if set_name != RESIZED:
                raise
            report.notes.append(f"inputs {RESIZED!r} skipped: the source model itself fails with its "
                                f"dynamic dims at a second size ({type(e).__name__}: {str(e)[:160]})")
            report.input_sets.remove(set_name)
            continue
        tol = own.get(set_name)
        if tol is None and own_floor and not same_arrays(feeds, sets["example"]):
            tol = set_tolerance(runners, feeds, report.tolerance, None)
        if tol is not None:
            report.set_tolerances[set_name] = tol
            report.notes.append(f"inputs {set_name!r} judged at rtol {tol.rtol:.1e}: {tol.reason} "
                                f"(the example inputs' gives {report.tolerance.rtol:.1e})")
        tol = tol or report.tolerance
        for runtime, outs in runners.runs(feeds, report, second_runtime=second_runtime):
            if len(outs) != len(expected):
                report.ok = False
                report.errors.append(f"{runtime}: {len(outs)} output(s), the source has {len(expected)}")
                continue
            for i, (got, exp) in enumerate(zip(outs, expected)):
                name = names[i] if i < len(names) else f"output_{i}"
                c = compare_output(set_name, runtime, name, got, exp, tol)
                report.comparisons.append(c)
                report.ok &= c.ok


def _compare_structure(report: ParityReport, conv: Conversion) -> None:
    """A migration keeps what trains: one emitted parameter per source parameter (ties kept),
    frozen stays frozen, buffers stay buffers."""
    from tensorbridge.structure import compare_structure

    problems = compare_structure(conv.source, conv.artifact)
    if problems:
        report.ok = False
        report.errors.append("trainable structure differs from the source: " + "; ".join(problems[:8])
                             + (f"; and {len(problems) - 8} more" if len(problems) > 8 else ""))


def model_name(conv: Conversion) -> str:
    """The model's own name, which titles its report: a file's stem (a SavedModel: its
    folder's name), a Keras model's ``.name``, a module's class name."""
    src = conv.source
    # A file read into its framework object is still named by its path (route.describe).
    if isinstance(src, str | os.PathLike) or conv.name != describe(src):
        return Path(conv.name).stem or conv.name
    if conv.kind == "pytorch":
        return type(src).__name__
    if type(src).__name__ == "ModelProto":
        return src.graph.name or "ModelProto"
    name = getattr(src, "name", None)
    return name if isinstance(name, str) and name else type(src).__name__


def _histogram(graph: Graph) -> dict[str, int]:
    return dict(Counter(n.op_type for n in graph.nodes()).most_common())


def _parity_message(report: ParityReport) -> str:
    """What is wrong and what to do first; the details after."""
    bad = [c for c in report.comparisons if not c.ok]
    lines = [f"{report.source} -> {report.target}: the converted model does not match "
             f"{report.reference}; it was not returned."]
    if bad:
        w = report.worst() or bad[0]
        t = report.tolerance_for(w.input_set)
        lines.append(f"  worst: {w.output} on inputs {w.input_set!r} ({w.runtime}): an element is "
                     f"{w.error_ratio:,.3g}x its allowance atol + rtol*|ref| (rtol {t.rtol:.1e}, "
                     f"atol {t.atol_scale:.1e} x max|ref|); max abs {w.max_abs:.2e}, max rel {w.max_rel:.2e}"
                     + (f" - {w.detail}" if w.detail else ""))
    d = report.first_divergence
    if d is not None:
        lines.append(f"  first divergence: {d.module or '<top level>'} ({', '.join(d.ops[:4])})"
                     + (f" at {d.location}" if d.location else ""))
    lines += [f"  {e}" for e in report.errors[:4]]
    lines.append("  Next: err.report.to_html('report.html') shows every output and layer; please "
                 "report it. validate=False (CLI: --no-validate) returns the unchecked model.")
    return "\n".join(lines)


__all__ = ["ParityError", "ParityReport", "check", "validate"]
