"""``tb.check``: does the converted model compute what the source computes, and if not,
which layer goes wrong first?

The source runs in its own framework (PyTorch *eager*, not the ExportedProgram; for an ONNX
source, onnxruntime is the reference); the converted graph runs on the built-in runtime and,
when installed, onnxruntime. Inputs: the example inputs plus generated ones (other seeds,
zeros, negatives, large magnitudes; integer inputs stay inside embedding tables). On a
mismatch, ONE more run of each side captures every layer's output (forward hooks on the
source, provenance-mapped values on the IR) to name the first diverging layer.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ir.errors import TensorbridgeError
from ir.graph import Graph
from runtime.parity.compare import compare_output, default_tolerance
from runtime.parity.report import ParityReport, Tolerance
from tensorbridge.inputs import example_from_graph, input_sets
from tensorbridge.sources import kind_of


def check(source: Any, example_inputs: Any = None, to: str = "onnx", *, inputs: Any = None,
          rtol: float | None = None, atol: float | None = None, dynamic_shapes: Any = None,
          generated: bool = True, localize: bool = True,
          progress: Callable[[str, int, int], None] | None = None) -> ParityReport:
    """Compare the converted model with the source; see the module docstring.
    ``progress(step, done, total)`` is called as the input sets are checked."""
    from tensorbridge.api import load
    from tensorbridge.migrate import emit, target_of

    migrate_to = target_of(to)
    if to != "onnx" and migrate_to is None:
        raise TensorbridgeError(f"check: unknown target {to!r}; use 'onnx', 'torch' or 'tensorflow'")
    kind = kind_of(source)
    t0 = time.perf_counter()
    graph = load(source, example_inputs, dynamic_shapes, keep_weight_layout=migrate_to is not None)
    emitted = emit(graph, migrate_to) if migrate_to is not None else None
    timings = {"convert_s": time.perf_counter() - t0}
    runners = _Runners(graph, emitted)
    reference = _Reference(source, kind, runners)
    given = inputs if inputs is not None else example_inputs
    if given is None and kind == "tensorflow":
        given = example_from_graph(graph)  # a .keras file or SavedModel carries no inputs
    base = reference.base_feeds(given)
    sets = input_sets(graph, base) if generated else {"example": base}
    report = ParityReport(_describe(source), to, reference.name, True, Tolerance(0, 0, ""),
                          input_sets=list(sets), op_histogram=_histogram(graph), timings=timings)
    failing: str | None = None
    tol = _tolerance(graph, base, rtol, atol, runners)
    report.tolerance = tol
    for done, (set_name, feeds) in enumerate(sets.items()):
        if progress is not None:
            progress(f"inputs {set_name}", done, len(sets))
        expected = reference.run(feeds)
        for runtime, outs in _converted_runs(runners, kind, feeds, report):
            for i, (got, exp) in enumerate(zip(outs, expected)):
                c = compare_output(set_name, runtime, f"output_{i}", got, exp, tol)
                report.comparisons.append(c)
                if not c.ok:
                    report.ok = False
                    failing = failing or set_name
    if failing is not None and localize and kind in ("pytorch", "tensorflow"):
        if progress is not None:
            progress("locating the first divergence", len(sets), len(sets) + 1)
        _localize(report, reference.source, graph, sets[failing])
    report.timings["total_s"] = time.perf_counter() - t0
    return report


class _Runners:
    """The converted graph's runners, each built once and reused for every input set."""

    def __init__(self, graph: Graph, emitted: Any = None) -> None:
        self.graph = graph
        self.emitted = emitted  # the module of a to="torch"/"tensorflow" check
        self._session: Any = None
        self._ort: Any = None

    def emitted_run(self, feeds: list[Any]) -> list[Any]:
        from tensorbridge.migrate import run_emitted

        try:
            return run_emitted(self.emitted, feeds)
        except TensorbridgeError:
            raise
        except Exception as e:  # the framework's own errors
            raise TensorbridgeError(f"the emitted model failed: {type(e).__name__}: {e}") from e

    def ir(self, feeds: list[Any]) -> list[Any]:
        if self._session is None:
            from runtime.session import Session

            self._session = Session(self.graph)
        return self._session.run(feeds)

    def ort(self, feeds: list[Any]) -> list[np.ndarray]:
        from converters.onnx import from_ir
        from tensorbridge.ort import ort_session

        try:
            if self._ort is None:
                self._ort = ort_session(from_ir(self.graph))
            names = [i.name for i in self._ort.get_inputs()]
            return self._ort.run(None, dict(zip(names, feeds)))
        except Exception as e:  # onnxruntime raises its own exception types
            raise TensorbridgeError(f"onnxruntime failed: {e}") from e


class _Reference:
    def __init__(self, source: Any, kind: str, runners: _Runners) -> None:
        self.kind, self.runners = kind, runners
        self.name = {"pytorch": "pytorch eager", "onnx": "onnxruntime",
                     "tensorflow": "tensorflow eager"}.get(kind, kind)
        if kind not in ("pytorch", "onnx", "tensorflow"):
            raise TensorbridgeError(f"check: cannot run a {type(source).__name__} as a reference")
        self.source = _loaded(source, kind)  # a file is read once, not once per input set

    def _eager(self) -> Any:
        if self.kind == "pytorch":
            from converters.pytorch.eager import eager_outputs
        else:
            from converters.tensorflow.eager import eager_outputs  # type: ignore[assignment]
        return eager_outputs

    def base_feeds(self, feeds: Any) -> list[np.ndarray]:
        if self.kind in ("pytorch", "tensorflow"):
            arrays, _ = self._eager()(self.source, feeds)
            return arrays
        if feeds is None:
            raise TensorbridgeError("check: an ONNX source needs inputs= (a list of arrays)")
        return [np.asarray(x) for x in (feeds if isinstance(feeds, list | tuple) else [feeds])]

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        if self.kind in ("pytorch", "tensorflow"):
            return self._eager()(self.source, feeds)[1]
        return self.runners.ort(feeds)


def _loaded(source: Any, kind: str) -> Any:
    if not isinstance(source, str | os.PathLike):
        return source
    if kind == "pytorch":
        from converters.pytorch.capture import load_pt2

        return load_pt2(Path(source))
    if kind == "tensorflow":
        from converters.tensorflow.capture import load_source

        return load_source(source)
    return source


def _converted_runs(runners: _Runners, kind: str, feeds: list[np.ndarray],
                    report: ParityReport) -> list[tuple[str, list[Any]]]:
    if runners.emitted is not None:  # a migration: the emitted module is what is checked
        from tensorbridge.migrate import emitted_kind

        runs = [(f"{emitted_kind(runners.emitted)} (emitted)", lambda: runners.emitted_run(feeds))]
    else:
        runs = [("tensorbridge", lambda: runners.ir(feeds))]
    if kind != "onnx" and runners.emitted is None and _has_ort():
        runs.append(("onnxruntime", lambda: runners.ort(feeds)))
    results = []
    for name, fn in runs:
        t = time.perf_counter()
        try:
            results.append((name, fn()))
        except TensorbridgeError as e:
            report.errors.append(f"{name}: {e}")
            report.ok = False
        report.timings[f"{name}_s"] = report.timings.get(f"{name}_s", 0.0) + time.perf_counter() - t
    return results


def _localize(report: ParityReport, source: Any, graph: Graph, feeds: list[np.ndarray]) -> None:
    t = time.perf_counter()
    if kind_of(source) == "pytorch":
        _localize_streaming(report, source, graph, feeds)
    else:
        from converters.tensorflow.eager import eager_layer_records
        from runtime.parity.divergence import locate, values_to_capture
        from runtime.session import Session

        records = eager_layer_records(source, feeds)
        session = Session(graph, fuse=False)
        session.run(feeds, capture=values_to_capture(graph, records))
        report.layers, report.first_divergence = locate(graph, records, session.captured, report.tolerance)
    report.timings["localize_s"] = time.perf_counter() - t


def _localize_streaming(report: ParityReport, source: Any, graph: Graph, feeds: list[np.ndarray]) -> None:
    """Eager and runtime advance together: each module's record, as its call finishes,
    pulls the IR values it maps to from a streaming run, is compared, and both are dropped
    once no later module needs them (memory: the live sets, not every intermediate)."""
    from converters.pytorch.eager import eager_stream
    from runtime.parity.divergence import Localizer, StreamedValues
    from runtime.session import Session

    loc = Localizer(graph, report.tolerance)
    refs = Counter(n for module in loc.bounds for n in loc.needed(module))
    values = StreamedValues(Session(graph, fuse=False).stream(feeds, set(refs)), dict(refs))

    def on_record(record: Any) -> None:
        need = loc.needed(record.module)
        values.pull(need)
        loc.feed(record, values)
        values.release(need)

    eager_stream(source, feeds, on_record)
    report.layers, report.first_divergence = loc.layers, loc.first


# A correct float32 conversion differs from its source by about the float32 rounding noise
# of each side; 20x the measured noise floor leaves room for that, yet a wrong formula (an
# approximate GELU moves BERT's output by ~1e-4) stands out. Clamped to [1e-6, 1e-3].
NOISE_FACTOR, MIN_TOL, MAX_TOL = 20.0, 1e-6, 1e-3


def _tolerance(graph: Graph, feeds: list[np.ndarray], rtol: float | None, atol: float | None,
               runners: _Runners) -> Tolerance:
    if rtol is not None:
        return Tolerance(rtol, atol if atol is not None else rtol / 10, "given")
    floats = [str(v.dtype.np_dtype) for v in graph.outputs if v.dtype is not None and v.dtype.is_float]
    dtype = floats[0] if floats else "float32"
    if dtype != "float32":
        return default_tolerance(dtype)
    noise = _noise_floor(graph, feeds, runners)
    if noise is None:
        tol = default_tolerance(dtype)
        tol.reason += "; float64 calibration run failed"
    else:
        t = float(np.clip(NOISE_FACTOR * noise, MIN_TOL, MAX_TOL))
        tol = Tolerance(t, t, f"{NOISE_FACTOR:g} x the float32 noise floor {noise:.1e} "
                               "(runtime float32 vs float64), clamped to [1e-6, 1e-3]")
    if atol is not None:
        tol = Tolerance(tol.rtol, atol, tol.reason + "; atol given")
    return tol


def _noise_floor(graph: Graph, feeds: list[np.ndarray], runners: _Runners) -> float | None:
    """max over outputs of max|f32 - f64| / max|f64| on the runtime."""
    from converters.onnx import from_ir, to_ir
    from ir.passes.widen import widen_float32
    from runtime.session import Session

    try:
        wide = to_ir(from_ir(graph))
        widen_float32(wide)
        wide_feeds = [x.astype(np.float64) if x.dtype == np.float32 else x for x in feeds]
        narrow_out = runners.ir(feeds)
        wide_out = Session(wide).run(wide_feeds)
    except TensorbridgeError:
        return None
    worst = 0.0
    for a, b in zip(narrow_out, wide_out):
        b = np.asarray(b)
        if b.dtype.kind != "f" or not b.size:
            continue
        scale = float(np.max(np.abs(b[np.isfinite(b)]), initial=0.0)) or 1.0
        diff = np.abs(np.asarray(a, np.float64) - b)
        worst = max(worst, float(np.nanmax(np.where(np.isfinite(diff), diff, 0.0))) / scale)
    return worst


def _has_ort() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _histogram(graph: Graph) -> dict[str, int]:
    return dict(Counter(n.op_type for n in graph.nodes()).most_common())


def _describe(source: Any) -> str:
    return str(source) if isinstance(source, str) else type(source).__name__
