"""The two sides a validation compares: the source run in its own framework
(:class:`Reference`) and what the conversion produced (:class:`Runners`), plus the
noise-floor tolerance and first-divergence localization they share."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import numpy as np

from tensorbridge.inputs import example_from_graph
from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.route import Conversion
from tensorbridge.runtime.parity.compare import default_tolerance
from tensorbridge.runtime.parity.report import ParityReport, Tolerance

FRAMEWORKS = ("pytorch", "tensorflow")


class Reference:
    """The source as its own framework runs it (an ONNX source: onnxruntime, or the built-in
    runtime where onnxruntime cannot load it)."""

    def __init__(self, conv: Conversion) -> None:
        self.kind, self.source, self.graph = conv.kind, conv.source, conv.graph
        self._perms = conv.input_perms  # source layout -> artifact layout, by input index
        self._ort: Any = None
        self._session: Any = None
        self._base: tuple[list[np.ndarray], list[np.ndarray]] | None = None  # (feeds, outputs)
        self.name = {"pytorch": "pytorch eager", "tensorflow": "tensorflow eager"}.get(conv.kind, "")
        if conv.kind == "onnx":
            self.name = self._open_ort()
        elif conv.kind == "ir":
            self.name = "tensorbridge runtime (source graph)"

    def _open_ort(self) -> str:
        from tensorbridge.ort import ort_session

        try:
            self._ort = ort_session(self.source)
            return "onnxruntime"
        except ImportError:
            return "tensorbridge runtime (onnxruntime is not installed)"
        except Exception as e:  # onnxruntime raises its own exception types
            first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            return f"tensorbridge runtime (onnxruntime cannot load the source: {first})"

    def _eager(self) -> Any:
        if self.kind == "pytorch":
            from tensorbridge.converters.pytorch.eager import eager_outputs
        else:
            from tensorbridge.converters.tensorflow.eager import eager_outputs  # type: ignore[assignment]
        return eager_outputs

    def base_feeds(self, given: Any) -> list[np.ndarray]:
        """The base input set as numpy arrays in graph-input order. A source that carries no
        example inputs (.keras, SavedModel, .onnx) gets inputs generated from its types."""
        if given is None and self.kind != "pytorch":
            given = self.source_feeds(example_from_graph(self.graph))
        if self.kind == "pytorch":  # a dict is keyword arguments; later feeds are passed alike
            from tensorbridge.converters.pytorch.eager import bind_source

            self.source = bind_source(self.source, given)
            given = None
        if isinstance(given, dict):
            names = [v.name for v in self.graph.inputs if not v.role.is_initializer]
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise TensorbridgeError(f"inputs: {unknown} are not inputs of the model; it takes {names}")
            missing = [n for n in names if n not in given]
            if missing:
                raise TensorbridgeError(f"inputs: missing {missing}; the model takes {names}")
            given = [given[n] for n in names]
        if self.kind in FRAMEWORKS:
            arrays, outs = self._eager()(self.source, given)
            if self._perms:
                from tensorbridge.layout import to_artifact

                arrays = to_artifact(arrays, self._perms)
            self._base = (arrays, outs)  # the base set's reference run is not repeated
            return arrays
        return [np.asarray(x) for x in (given if isinstance(given, list | tuple) else [given])]

    def source_feeds(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        """Inputs in the produced model's layout -> the source's (they differ only with
        ``inputs_as_nchw``)."""
        if not self._perms:
            return feeds
        from tensorbridge.layout import to_source

        return to_source(feeds, self._perms)

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        if self._base is not None and same_arrays(feeds, self._base[0]):
            return self._base[1]
        if self.kind in FRAMEWORKS:
            return self._eager()(self.source, self.source_feeds(feeds))[1]
        if self._ort is not None:
            names = [i.name for i in self._ort.get_inputs()]
            try:
                return self._ort.run(None, dict(zip(names, feeds)))
            except Exception as e:  # onnxruntime raises its own exception types
                first = str(e).strip().splitlines()[-1][:300] if str(e).strip() else type(e).__name__
                raise TensorbridgeError(f"{self.graph.name}: onnxruntime cannot run the source model "
                                        f"on these inputs ({first}); check the model and the input "
                                        "shapes") from e
        if self._session is None:
            from tensorbridge.runtime.session import Session

            self._session = Session(self.graph if self.kind == "onnx" else self.source)
        return self._session.run(feeds)


class Runners:
    """What was produced, as the user gets it: the IR graph on the built-in runtime (and the
    ONNX bytes on onnxruntime), or the emitted framework module. Built once per validation."""

    def __init__(self, graph: Graph | None = None, emitted: Any = None,
                 onnx_model: bytes | str | None = None) -> None:
        self.graph, self.emitted, self.onnx_model = graph, emitted, onnx_model
        self._session: Any = None
        self._ort: Any = None
        self._last: tuple[list[Any], list[Any]] | None = None  # (feeds, outputs) of the last IR run
        self._wide: Any = None  # the graph's float64 twin, planned (noise-floor calibration)
        self._tmp: Any = None  # a temporary folder the artifact was written to (big models)

    @classmethod
    def for_artifact(cls, conv: Conversion, report: ParityReport) -> Runners:
        """ONNX: the artifact (a ModelProto, or the path of a written file with its external
        data) must pass onnx.checker's full check, then is re-read into the graph that runs.
        A migration: the emitted module (or the saved folder loaded back)."""
        if conv.target != "onnx":
            return cls(emitted=conv.artifact)
        import onnx

        from tensorbridge.converters.onnx import to_ir
        from tensorbridge.converters.onnx.external import needs_external_data

        t0 = time.perf_counter()
        artifact = conv.artifact
        if not isinstance(artifact, str | os.PathLike) and needs_external_data(artifact):
            return cls._for_big_artifact(conv, report)
        model: bytes | str = str(artifact) if isinstance(artifact, str | os.PathLike) \
            else artifact.SerializeToString()
        try:
            onnx.checker.check_model(model, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
            report.ok = False
            report.errors.append(f"onnx.checker (full_check) refuses the produced model: "
                                 f"{str(e).strip().splitlines()[0][:300]}")
        graph: Graph | None = None
        try:
            graph = to_ir(model if isinstance(model, str) else artifact)  # the proto those bytes are
        except TensorbridgeError as e:
            report.ok = False
            report.errors.append(f"the produced ONNX does not load back: {e}")
        report.timings["onnx_check_s"] = time.perf_counter() - t0
        return cls(graph=graph, onnx_model=model)

    @classmethod
    def _for_big_artifact(cls, conv: Conversion, report: ParityReport) -> Runners:
        """A model over protobuf's 2 GiB cannot be serialized as one message: it is checked
        as tb.save writes it (external data), from a temporary folder."""
        import dataclasses

        from tensorbridge.converters.onnx.external import temporary_external_copy

        path, tmp = temporary_external_copy(conv.artifact, "tensorbridge-check-")
        runners = cls.for_artifact(dataclasses.replace(conv, artifact=path), report)
        runners._tmp = tmp  # removed with the runners (the graph maps the data file)
        return runners

    def ir(self, feeds: list[Any]) -> list[Any]:
        """The graph on the built-in runtime (the noise-floor calibration's float32 run of
        the base set is the comparison's run too)."""
        if self._last is not None and same_arrays(feeds, self._last[0]):
            return self._last[1]
        if self._session is None:
            from tensorbridge.runtime.session import Session

            self._session = Session(self.graph)
        outs = self._session.run(feeds)
        self._last = (list(feeds), outs)
        return outs

    def wide(self, graph: Graph) -> Any:
        """The float64 twin of ``graph`` (a widened copy) as a planned Session, made once:
        the noise-floor calibration runs it on the example and on every generated set."""
        if self._wide is None:
            import copy

            from tensorbridge.ir.passes.widen import widen_float32
            from tensorbridge.runtime.session import Session

            twin = copy.deepcopy(graph)
            widen_float32(twin)
            self._wide = Session(twin)
        return self._wide

    def ort(self, feeds: list[Any]) -> list[np.ndarray]:
        from tensorbridge.ort import ort_session

        try:
            if self._ort is None:
                self._ort = ort_session(self.onnx_model)
            names = [i.name for i in self._ort.get_inputs()]
            return self._ort.run(None, dict(zip(names, feeds)))
        except Exception as e:  # onnxruntime raises its own exception types
            raise TensorbridgeError(f"onnxruntime failed: {e}") from e

    def emitted_run(self, feeds: list[Any]) -> list[Any]:
        from tensorbridge.migrate import run_emitted

        try:
            return run_emitted(self.emitted, feeds)
        except TensorbridgeError:
            raise
        except Exception as e:  # the framework's own errors
            raise TensorbridgeError(f"the emitted model failed: {type(e).__name__}: {e}") from e

    def runs(self, feeds: list[np.ndarray], report: ParityReport, *,
             second_runtime: bool) -> list[tuple[str, list[Any]]]:
        """(runtime name, outputs) of every runner on ``feeds``; failures go to the report."""
        if self.emitted is not None:
            from tensorbridge.migrate import emitted_kind

            runs = [(f"{emitted_kind(self.emitted)} (emitted)", lambda: self.emitted_run(feeds))]
        else:
            runs = [("tensorbridge", lambda: self.ir(feeds))]
            if second_runtime and self.onnx_model is not None:
                if _has_ort():
                    runs.append(("onnxruntime", lambda: self.ort(feeds)))
                elif _NO_ORT not in report.notes:
                    report.notes.append(_NO_ORT)
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

    def check_layers(self, report: ParityReport, source: Any, feeds: list[np.ndarray]) -> None:
        """The calibrated layer check (a PyTorch source against the IR): every source layer's
        output is compared with the IR value it maps to at that value's own tolerance,
        :data:`NOISE_FACTOR` x its float32 noise floor (see :func:`layer_tolerances`). A
        wrong formula whose effect later layers damp below the outputs' noise (an
        approximate GELU before a LayerNorm) is visible here. Fills ``report.layers``; a
        diverging layer fails the report and is its first divergence."""
        from tensorbridge.runtime.parity.divergence import Localizer

        if self.graph is None:
            return
        t = time.perf_counter()
        loc = Localizer(self.graph, report.tolerance)
        watched = {n for module in loc.bounds for n in loc.needed(module)}
        tolerances = layer_tolerances(self.graph, feeds, watched)
        if tolerances is None:
            report.errors.append("layer check skipped: the float64 calibration run failed")
            return
        from tensorbridge.converters.pytorch.eager import wide_layer_outputs

        wide = wide_layer_outputs(source, feeds)
        _localize_streaming(report, source, self.graph, feeds, tolerances, wide)
        report.timings["layer_check_s"] = time.perf_counter() - t
        d = report.first_divergence
        if d is not None:
            report.ok = False
            report.errors.append(
                f"layer {d.module or '<model>'} differs from the source beyond its float32 noise "
                f"(max rel {d.max_rel:.1e}) although the outputs agree: later layers damp the error")

    def can_localize(self, conv: Conversion) -> bool:
        return conv.kind in FRAMEWORKS and (self.graph is not None or self.emitted is not None)

    def localize(self, report: ParityReport, kind: str, source: Any, feeds: list[np.ndarray]) -> None:
        """Name the first layer of ``source`` (a ``kind`` = 'pytorch' / 'tensorflow' model)
        whose output the produced model gets wrong."""
        t = time.perf_counter()
        if self.emitted is not None:
            _localize_emitted(report, kind, source, self.emitted, feeds)
        elif kind == "pytorch":
            _localize_streaming(report, source, self.graph, feeds)  # type: ignore[arg-type]
        else:
            _localize_captured(report, source, self.graph, feeds)  # type: ignore[arg-type]
        report.timings["localize_s"] = report.timings.get("localize_s", 0.0) + time.perf_counter() - t


def _widen_to_source_noise(tolerances: dict[str, Tolerance], loc: Any, record: Any,
                           wide: dict[str, np.ndarray]) -> None:
    """A layer's allowance also covers the source's own float32 rounding there (its float32
    output against the float64 copy's, ``wide``): where PyTorch's kernels round more than
    the runtime, an error that is only the source's noise must not read as a divergence."""
    ref = wide.pop(record.module, None)
    if ref is None or not record.outputs:
        return
    n = _relative_noise(record.outputs[0], ref)
    # not capped at MAX_TOL: a conversion cannot match the source more closely than the
    # source matches its own float64 twin (capped at NOISY_MAX_TOL)
    t = _noise_tol(n, NOISY_MAX_TOL)
    for name in loc.outputs(record.module):
        have = tolerances.get(name)
        if have is None or have.rtol < t:
            tolerances[name] = Tolerance(t, t, f"{NOISE_FACTOR:g} x the source's own float32 noise "
                                               f"{n:.1e} at this layer (float32 vs float64 PyTorch)")


def _localize_captured(report: ParityReport, source: Any, graph: Graph, feeds: list[np.ndarray]) -> None:
    from tensorbridge.converters.tensorflow.eager import eager_layer_records
    from tensorbridge.runtime.parity.divergence import locate, values_to_capture
    from tensorbridge.runtime.session import Session

    records = eager_layer_records(source, feeds)
    session = Session(graph, fuse=False)
    session.run(feeds, capture=values_to_capture(graph, records))
    report.layers, report.first_divergence = locate(graph, records, session.captured, report.tolerance)


def _localize_streaming(report: ParityReport, source: Any, graph: Graph, feeds: list[np.ndarray],
                        tolerances: dict[str, Tolerance] | None = None,
                        wide: dict[str, np.ndarray] | None = None) -> None:
    """Eager and runtime advance together: each module's record, as its call finishes,
    pulls the IR values it maps to from a streaming run, is compared, and both are dropped
    once no later module needs them (memory: the live sets, not every intermediate).
    ``tolerances``: per IR value (the calibrated layer check), else the report's; ``wide``:
    the source's float64 layer outputs, which widen each layer's tolerance to the source's
    own float32 noise before it is compared."""
    from tensorbridge.converters.pytorch.eager import eager_stream
    from tensorbridge.runtime.parity.divergence import Localizer, StreamedValues
    from tensorbridge.runtime.session import Session

    loc = Localizer(graph, report.tolerance, tolerances=tolerances)
    refs = Counter(n for module in loc.bounds for n in loc.needed(module))
    values = StreamedValues(Session(graph, fuse=False).stream(feeds, set(refs)), dict(refs))

    def on_record(record: Any) -> None:
        need = loc.needed(record.module)
        values.pull(need)
        if wide is not None and tolerances is not None:
            _widen_to_source_noise(tolerances, loc, record, wide)
        loc.feed(record, values)
        values.release(need)

    eager_stream(source, feeds, on_record)
    report.layers, report.first_divergence = loc.layers, loc.first


def _localize_emitted(report: ParityReport, kind: str, source: Any, module: Any,
                      feeds: list[np.ndarray]) -> None:
    """The emitted module's values (named as in its IR graph) against the source's layers.
    Values a layout rewrite changed (TensorFlow's channels-last) do not match by shape and
    are skipped."""
    from tensorbridge.runtime.parity.divergence import locate, values_to_capture

    if kind == "pytorch":
        from tensorbridge.converters.pytorch.eager import eager_trace

        records = eager_trace(source, feeds)[1]
    else:
        from tensorbridge.converters.tensorflow.eager import eager_layer_records

        records = eager_layer_records(source, feeds)
    from tensorbridge.migrate import capture_emitted

    names = frozenset(values_to_capture(module.graph, records))
    captured = capture_emitted(module, feeds, names)
    report.layers, report.first_divergence = locate(module.graph, records, captured, report.tolerance)


# A correct float32 conversion differs from its source by about the float32 rounding noise
# of each side; 20x the measured noise floor leaves room for that, yet a wrong formula stands
# out where it acts (an approximate GELU: ~4e-5 of the GELU layer's scale on a small BERT,
# though only ~1e-7 at its outputs -- hence the per-layer check). Clamped to [1e-6, 1e-3].
NOISE_FACTOR, MIN_TOL, MAX_TOL = 20.0, 1e-6, 1e-3
# The layer check's allowance for the source's own noise at a layer is not capped at
# MAX_TOL, only here: above 10% a comparison of that layer says nothing.
NOISY_MAX_TOL = 0.1
# the reason of a tolerance calibrated on the graph's own float32 noise (noise_tolerance)
CALIBRATED = f"{NOISE_FACTOR:g} x the float32 noise floor"


def _noise_tol(noise: float, cap: float = MAX_TOL) -> float:
    """:data:`NOISE_FACTOR` x a relative noise floor, clamped to [MIN_TOL, ``cap``]."""
    return float(np.clip(NOISE_FACTOR * noise, MIN_TOL, cap))


def noise_tolerance(runners: Runners, feeds: list[np.ndarray], rtol: float | None,
                    atol: float | None) -> Tolerance:
    """The tolerance of a float32 graph: a multiple of its own float32 rounding noise."""
    if rtol is not None:
        return Tolerance(rtol, atol if atol is not None else rtol / 10, "given")
    graph = runners.graph
    if graph is None:
        return default_tolerance("float32")
    floats = [str(v.dtype.np_dtype) for v in graph.outputs if v.dtype is not None and v.dtype.is_float]
    dtype = floats[0] if floats else "float32"
    if dtype != "float32":
        return default_tolerance(dtype)
    noise = _noise_floor(graph, feeds, runners)
    if noise is None:
        tol = default_tolerance(dtype)
        tol.reason += "; float64 calibration run failed"
    else:
        t = _noise_tol(noise)
        reason = f"{CALIBRATED} {noise:.1e} (runtime float32 vs float64), clamped to [1e-6, 1e-3]"
        if NOISE_FACTOR * noise > MAX_TOL:
            # the cap keeps the check meaningful; say so where it, not the conversion, decides
            reason += (f"; the model's own float32 rounding moves its outputs by {noise:.1e} on these "
                       f"inputs, more than a 1e-3 check allows: pass rtol (e.g. "
                       f"{NOISE_FACTOR * noise:.0e}) to judge it at its own noise, or check its weights")
        tol = Tolerance(t, t, reason)
    if atol is not None:
        tol = Tolerance(tol.rtol, atol, tol.reason + "; atol given")
    return tol


def set_tolerance(runners: Runners, feeds: list[np.ndarray], base: Tolerance,
                  rtol: float | None) -> Tolerance | None:
    """The tolerance of one generated input set when its own float32 noise floor is above
    the one ``base`` was calibrated on (else None). The rounding noise of a float32 graph
    depends on its inputs (large magnitudes push a chaotic network much further than the
    example inputs do), so each generated set is judged against its own floor, never below
    the example's. Nothing is raised when the tolerance was given or the graph is not
    float32 (``base`` is then not :data:`CALIBRATED`), or when the set's float64 twin cannot
    run. The float32 run is the one the comparison of the set then reuses
    (:meth:`Runners.ir` keeps the last).

    A generated set's tolerance is not capped at :data:`MAX_TOL`: where the model amplifies
    rounding that far (the example's opposite on a random EfficientNetB1: a floor of 1.6e-2,
    and onnxruntime's and our runtime's results 2x that from TensorFlow's), no float32
    runtime can be told apart from a wrong one at 1e-3, and the reason says that this set
    only catches errors above its own noise. Nor at :data:`NOISY_MAX_TOL`: timm's
    tf_efficientnet_b6 on the 'large' set (the example x 100) has a floor above 5e-3, both
    runtimes are ~100% off there, and a 10% cap refused a conversion correct on every other
    set. The example inputs keep the cap."""
    graph = runners.graph
    if rtol is not None or graph is None or not base.reason.startswith(CALIBRATED):
        return None
    noise = _noise_floor(graph, feeds, runners)
    t = _noise_tol(noise, np.inf) if noise is not None else 0.0
    if t <= 1.01 * base.rtol:  # (a floor equal to the example's up to rounding is not raised)
        return None
    reason = f"{NOISE_FACTOR:g} x this input set's own float32 noise floor {noise:.1e}"
    if t > MAX_TOL:
        reason += (f", above the {MAX_TOL:g} cap: the model amplifies float32 rounding on these inputs, "
                   "so they only catch errors larger than that")
    return Tolerance(t, max(t, base.atol_scale), reason)


def set_tolerances(runners: Runners, sets: dict[str, list[np.ndarray]], base: Tolerance,
                   rtol: float | None) -> dict[str, Tolerance]:
    """:func:`set_tolerance` of every generated set (the example's own is ``base``), where
    raised."""
    out = {}
    for name, feeds in sets.items():
        tol = None if same_arrays(feeds, sets.get("example", [])) else set_tolerance(runners, feeds, base, rtol)
        if tol is not None:
            out[name] = tol
    return out


def layer_tolerances(graph: Graph, feeds: list[np.ndarray], names: set[str]) -> dict[str, Tolerance] | None:
    """Per watched value: :data:`NOISE_FACTOR` x its own float32 noise floor
    (max|f32 - f64| / max|f64| over the value, the runtime's float32 run against its float64
    twin on ``feeds``), clamped to [MIN_TOL, MAX_TOL]. One noise figure for the whole model
    is set by its noisiest output; a layer early in the model is far quieter, so its own
    floor catches errors that are noise-sized by the time they reach the outputs. None when
    the float64 twin cannot run."""
    noise = _value_noise(graph, feeds, names)
    if noise is None:
        return None
    out = {}
    for name, n in noise.items():
        t = _noise_tol(n)
        out[name] = Tolerance(t, t, f"{NOISE_FACTOR:g} x this value's float32 noise floor {n:.1e}")
    return out


def _value_noise(graph: Graph, feeds: list[np.ndarray], names: set[str]) -> dict[str, float] | None:
    """max|f32 - f64| / max|f64| of each named float value: both runs stream the values in
    the same plan order, so only a few are held at once."""
    import copy

    from tensorbridge.ir.passes.widen import widen_float32
    from tensorbridge.runtime.session import Session

    try:
        wide = copy.deepcopy(graph)
        widen_float32(wide)
        wide_feeds = [x.astype(np.float64) if x.dtype == np.float32 else x for x in feeds]
        narrow = Session(graph, fuse=False).stream(feeds, names)
        twin = Session(wide, fuse=False).stream(wide_feeds, names)
        held32: dict[str, Any] = {}
        held64: dict[str, Any] = {}
        noise: dict[str, float] = {}
        for (n32, v32), (n64, v64) in zip(narrow, twin):
            held32[n32], held64[n64] = v32, v64
            for name in [n for n in held32 if n in held64]:  # usually just this step's value
                noise[name] = _relative_noise(held32.pop(name), held64.pop(name))
    except TensorbridgeError:
        return None
    return noise


def _relative_noise(narrow: Any, wide: Any) -> float:
    a, b = np.asarray(narrow), np.asarray(wide)
    if b.dtype.kind != "f" or a.shape != b.shape or not b.size:
        return 0.0
    finite = np.isfinite(b)
    scale = float(np.max(np.abs(b[finite]), initial=0.0)) or 1.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: not noise, left out
        diff = np.abs(a.astype(np.float64) - b)
    return float(np.max(np.where(np.isfinite(diff), diff, 0.0))) / scale


def _noise_floor(graph: Graph, feeds: list[np.ndarray], runners: Runners) -> float | None:
    """max over outputs of max|f32 - f64| / max|f64| on the runtime."""
    try:
        narrow_out = runners.ir(feeds)
        wide_out = runners.wide(graph).run([x.astype(np.float64) if x.dtype == np.float32 else x
                                            for x in feeds])
    except TensorbridgeError:
        return None
    return max((_relative_noise(a, b) for a, b in zip(narrow_out, wide_out)), default=0.0)


def same_arrays(a: list[Any], b: list[Any]) -> bool:
    """The same input objects (an input set that is the base set), not just equal values."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


_NO_ORT = ("onnxruntime is not installed: the ONNX model ran on the built-in runtime only "
           "(pip install 'tensorbridge[ort]' checks it on onnxruntime too)")


def _has_ort() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None
