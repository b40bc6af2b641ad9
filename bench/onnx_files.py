"""Sweep over ONNX files nobody here wrote: onnx's backend test data (``light``, ``simple``,
``pytorch-converted``, ``pytorch-operator``) and every ``.onnx`` file shipped inside the
installed packages.

    .venv/bin/python bench/onnx_files.py [--only REGEX] [--out docs/onnx-files.md]
                                         [--timeout SECONDS] [--list]

For every case, each column is checked *against data we did not compute*: the outputs stored
with the case (``test_data_set_0/output_*.pb``; ``light_<model>_output_0.pb`` for the light
models, fed the inputs onnx's own backend runner generates), or, for a file that stores
none, onnxruntime's outputs on inputs generated from its input types:

* runtime: ``tensorbridge.runtime.session.Session`` on the inputs;
* onnxruntime: the file on onnxruntime (one thread, no spinning), as a second opinion;
* round trip: ``tb.convert(path, inputs, to="onnx")`` (validated: checker full_check and
  outputs), then the returned model on the runtime;
* to torch / to tensorflow: ``tb.convert(path, inputs, to=...)`` (validated), then the
  returned module run on the inputs.

Outputs compare as onnx's backend runner does (same shape and dtype, ``|got - want| <=
atol + rtol * |want|`` with the case's rtol/atol). Verdicts: ``ok``; ``error: <first line>``
(an exception: a tensorbridge error is the user being told, a ParityError included);
``WRONG: ...`` (a returned result that differs from the reference); ``no reference`` (nothing
stored and onnxruntime cannot run the file). The Markdown table goes to ``--out``.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
FOLDERS = ("simple", "pytorch-converted", "pytorch-operator")
SITE = Path(onnx.__file__).parent.parent  # the site-packages folder onnx is installed in
COLUMNS = ("runtime", "onnxruntime", "round trip", "to torch", "to tensorflow")
OK = "ok"
NO_REFERENCE = "no reference"


@dataclass
class Case:
    """One ONNX file with its inputs and, when the file comes with them, expected outputs."""

    name: str  # e.g. "light/squeezenet", "pytorch-converted/test_Conv2d"
    path: Path
    inputs: list[Any]
    expected: list[Any] | None  # None: compare with onnxruntime
    rtol: float = 1e-3
    atol: float = 1e-7
    ir_version: int = 0


@dataclass
class Result:
    case: str
    ir_version: int
    verdicts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- cases
def collect(only: str | None = None) -> list[Case]:
    """Every case, in a stable order; ``only``: a regex the case name must match."""
    found = [*light_cases(), *(c for kind in FOLDERS for c in folder_cases(kind)), *package_cases()]
    return [c for c in found if only is None or re.search(only, c.name)]


def _model(path: Path) -> onnx.ModelProto:
    return onnx.load(str(path), load_external_data=False)


def _required(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def light_cases() -> Iterator[Case]:
    """The light Model Zoo architectures: inputs as onnx's backend runner makes them
    (``BackendTest.generate_dummy_data``), outputs from ``light_<name>_output_<i>.pb``."""
    from onnx.backend.test.case.model import collect_testcases
    from onnx.backend.test.runner import Runner

    tolerances = {t.model_name: (t.rtol, t.atol) for t in collect_testcases() if t.kind == "real"}
    for path in sorted((DATA / "light").glob("light_*.onnx")):
        name = path.stem.removeprefix("light_")
        model = _model(path)
        inputs = [Runner.generate_dummy_data(vi, name=name) for vi in _required(model)]
        outs = [path.with_name(f"{path.stem}_output_{i}.pb") for i in range(len(model.graph.output))]
        expected = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in outs] if all(
            p.exists() for p in outs) else None
        rtol, atol = tolerances.get(name, (1e-3, 1e-7))
        yield Case(f"light/{name}", path, inputs, expected, rtol, atol, int(model.ir_version))


def folder_cases(kind: str) -> Iterator[Case]:
    """``<kind>/test_*/model.onnx`` with ``test_data_set_0``; rtol/atol from data.json."""
    from onnx.backend.test.loader import load_model_tests

    for t in sorted(load_model_tests(kind=kind), key=lambda t: t.name):
        if t.model_dir is None:  # a model to download: not in this sweep
            continue
        folder = Path(t.model_dir)
        model = _model(folder / "model.onnx")
        data = folder / "test_data_set_0"
        inputs = [read_proto(data / f"input_{i}.pb", vi.type) for i, vi in enumerate(_required(model))]
        expected = [read_proto(data / f"output_{i}.pb", vi.type) for i, vi in enumerate(model.graph.output)]
        yield Case(f"{kind}/{t.name}", folder / "model.onnx", inputs, expected, t.rtol, t.atol,
                   int(model.ir_version))


def package_cases() -> Iterator[Case]:
    """Every .onnx file in the installed packages outside onnx's test data: inputs generated
    from the graph's input types, outputs compared with onnxruntime."""
    from tensorbridge.converters.onnx import to_ir
    from tensorbridge.inputs import example_from_graph

    for path in sorted(SITE.rglob("*.onnx")):
        if DATA in path.parents:
            continue
        inputs = example_from_graph(to_ir(path), batch=3)
        yield Case(f"site-packages/{path.relative_to(SITE)}", path, inputs, None,
                   ir_version=int(_model(path).ir_version))


def read_proto(path: Path, vtype: onnx.TypeProto) -> Any:
    """A stored input/output as numpy: a tensor, a list (sequence) or None (empty optional)."""
    data = path.read_bytes()
    kind = vtype.WhichOneof("value")
    if kind == "sequence_type":
        return numpy_helper.to_list(onnx.SequenceProto.FromString(data))
    if kind == "optional_type":
        return numpy_helper.to_optional(onnx.OptionalProto.FromString(data))
    return numpy_helper.to_array(onnx.TensorProto.FromString(data))


# ----------------------------------------------------------------------------- checks
def mismatch(got: Sequence[Any], want: Sequence[Any], rtol: float, atol: float) -> str | None:
    """Why ``got`` differs from ``want`` (None when they agree), as onnx's runner compares."""
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        why = _differs(g, w, rtol, atol)
        if why:
            return f"output {i}: {why}"
    return None


def _differs(g: Any, w: Any, rtol: float, atol: float) -> str | None:
    if isinstance(w, list | tuple) or isinstance(g, list | tuple):
        if not isinstance(g, list | tuple) or not isinstance(w, list | tuple) or len(g) != len(w):
            return f"a {type(g).__name__} where a {type(w).__name__} of {len(w)} was expected"
        return next((f"[{j}] {d}" for j, d in ((j, _differs(a, b, rtol, atol))
                                              for j, (a, b) in enumerate(zip(g, w))) if d), None)
    if isinstance(w, dict):
        if not isinstance(g, dict) or set(g) != set(w):
            return "maps with different keys"
        return next((f"[{k!r}] {d}" for k in w if (d := _differs(g[k], w[k], rtol, atol))), None)
    if w is None or g is None:
        return None if g is None and w is None else "an empty optional on one side only"
    g, w = np.asarray(g), np.asarray(w)
    if g.shape != w.shape:
        return f"shape {list(g.shape)}, expected {list(w.shape)}"
    if g.dtype != w.dtype and not (g.dtype.kind in "OUS" and w.dtype.kind in "OUS"):
        return f"dtype {g.dtype}, expected {w.dtype}"
    if w.dtype.kind in "OUSb" or w.dtype.kind in "iu":
        return None if np.array_equal(g, w) else "values differ"
    gf, wf = g.astype(np.float64), w.astype(np.float64)
    if np.array_equal(np.isnan(gf), np.isnan(wf)) and np.all(
            np.isnan(wf) | (np.abs(gf - wf) <= atol + rtol * np.abs(wf))):
        return None
    err = float(np.nanmax(np.abs(gf - wf))) if gf.size else 0.0
    return f"max abs error {err:.3g} (rtol {rtol:g}, atol {atol:g})"


def onnxruntime_outputs(case: Case) -> list[Any]:
    from tensorbridge.ort import ort_session

    sess = ort_session(case.path)
    names = [i.name for i in sess.get_inputs()]
    feeds = dict(zip(names, case.inputs))
    return [_plain(o) for o in sess.run(None, feeds)]


def runtime_outputs(case: Case) -> list[Any]:
    from tensorbridge.converters.onnx import to_ir
    from tensorbridge.runtime.session import Session

    return Session(to_ir(case.path)).run(list(case.inputs))


def round_trip_outputs(case: Case) -> list[Any]:
    import tensorbridge as tb
    from tensorbridge.runtime.session import Session

    model = tb.convert(str(case.path), tuple(case.inputs), to="onnx")
    onnx.checker.check_model(model, full_check=True)
    return Session(tb.load(model)).run(list(case.inputs))


def migrated_outputs(case: Case, to: str) -> list[Any]:
    import tensorbridge as tb

    module = tb.convert(str(case.path), tuple(case.inputs), to=to)
    return call_module(module, case.inputs, to)


def call_module(module: Any, inputs: Sequence[Any], to: str) -> list[Any]:
    """Run an emitted module on numpy inputs as a user would; outputs as numpy (lists stay lists)."""
    if to == "torch":
        import torch

        with torch.no_grad():
            outs = module(*[_to_torch(x) for x in inputs])
    else:
        import tensorflow as tf

        outs = module(*[tf.constant(x) if isinstance(x, np.ndarray) else x for x in inputs])
    return [_plain(o) for o in (outs if isinstance(outs, tuple) else (outs,))]


def _to_torch(x: Any) -> Any:
    import torch

    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x)) if x.dtype != object else x
    if isinstance(x, list):
        return [_to_torch(v) for v in x]
    return x


def _plain(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if hasattr(x, "detach"):
        return x.detach().numpy()
    if hasattr(x, "numpy"):
        return x.numpy()
    return x


# ----------------------------------------------------------------------------- sweep
def first_line(e: BaseException, path: Path | None = None) -> str:
    """The exception's first line (the model's path shortened to ``model``); for a
    ParityError also its second (what differed)."""
    text = [t.strip() for t in str(e).strip().splitlines()]
    line = text[0] if text else ""
    if type(e).__name__ == "ParityError" and len(text) > 1:
        line = f"{line} {text[1]}"
    if path is not None:
        line = line.replace(str(path), "model")
    return f"{type(e).__name__}: {line}"[:240]


class _Timeout(Exception):
    pass


def _verdict(run: Callable[[], list[Any]], reference: list[Any] | None, case: Case,
             timeout: float) -> tuple[str, list[Any] | None]:
    """The verdict of one column, and its outputs when it ran."""
    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout(f"over {timeout:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        outs = run()
    except Exception as e:  # every failure is a row of the table
        return f"error: {first_line(e, case.path)}", None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if reference is None:
        return NO_REFERENCE, outs
    why = mismatch(outs, reference, case.rtol, case.atol)
    return (OK if why is None else f"WRONG: {why}"), outs


def run_case(case: Case, timeout: float = 600.0, columns: Sequence[str] = COLUMNS) -> Result:
    """Every column of one case (see the module docstring)."""
    t0 = time.perf_counter()
    res = Result(case.name, case.ir_version)
    ort_verdict, ort_outs = _verdict(lambda: onnxruntime_outputs(case), case.expected, case, timeout)
    reference = case.expected if case.expected is not None else ort_outs
    if case.expected is None and ort_outs is not None:
        ort_verdict = OK + " (the reference)"
    runs: dict[str, Callable[[], list[Any]]] = {
        "runtime": lambda: runtime_outputs(case),
        "round trip": lambda: round_trip_outputs(case),
        "to torch": lambda: migrated_outputs(case, "torch"),
        "to tensorflow": lambda: migrated_outputs(case, "tensorflow"),
    }
    for col in columns:
        if col == "onnxruntime":
            res.verdicts[col] = ort_verdict
        else:
            res.verdicts[col] = _verdict(runs[col], reference, case, timeout)[0]
    res.seconds = time.perf_counter() - t0
    return res


def summary(results: Sequence[Result]) -> list[str]:
    def ok(r: Result, col: str) -> bool:
        return r.verdicts.get(col, "").startswith(OK)

    def wrong(col: str) -> int:
        return sum(r.verdicts.get(col, "").startswith("WRONG") for r in results)

    ran = [r for r in results if ok(r, "runtime")]
    lines = [f"{len(results)} cases: runtime ok {len(ran)}, onnxruntime ok "
             f"{sum(ok(r, 'onnxruntime') for r in results)}, round trip ok "
             f"{sum(ok(r, 'round trip') for r in results)}."]
    for col in ("to torch", "to tensorflow"):
        good = sum(ok(r, col) for r in ran)
        pct = 100.0 * good / len(ran) if ran else 0.0
        lines.append(f"{col}: correct on {good} of the {len(ran)} cases the runtime runs ({pct:.1f}%); "
                     f"{sum(ok(r, col) for r in results)} ok in all.")
    lines.append("WRONG results: " + ", ".join(f"{c} {wrong(c)}" for c in COLUMNS) + ".")
    return lines


def markdown(results: Sequence[Result], command: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| case | IR | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    rows += [f"| {r.case} | {r.ir_version} | " + " | ".join(cell(r.verdicts.get(c, "")) for c in COLUMNS)
             + " |" for r in results]
    return "\n".join([
        "# ONNX files nobody here wrote", "",
        "onnx's backend test data (`light`, `simple`, `pytorch-converted`, `pytorch-operator`) and",
        "every `.onnx` file in the installed packages, on the runtime, on onnxruntime, round-tripped",
        "through `tb.convert(..., to=\"onnx\")` and migrated with `tb.convert(..., to=\"torch\"/"
        "\"tensorflow\")`;",
        "each result is compared with the outputs stored with the case (onnxruntime's where none",
        "are stored). `error:` is an exception's first line, `WRONG:` a returned result that",
        "differs. See the docstring of `bench/onnx_files.py`.", "",
        f"Made by: `{command}`", "",
        *summary(results), "", *rows, ""])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="regex on case names (e.g. 'light/|simple/')")
    ap.add_argument("--out", default=str(ROOT / "docs" / "onnx-files.md"))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per column of a case")
    ap.add_argument("--list", action="store_true", help="list the cases and stop")
    args = ap.parse_args(argv)
    import onnxruntime

    onnxruntime.set_default_logger_severity(4)  # its refusals are reported in the table instead
    cases = collect(args.only)
    if args.list:
        print("\n".join(c.name for c in cases))
        return 0
    results = []
    for i, case in enumerate(cases, 1):
        try:
            res = run_case(case, args.timeout)
        except Exception:  # a bug of the harness: shown, the sweep goes on
            traceback.print_exc()
            res = Result(case.name, case.ir_version, dict.fromkeys(COLUMNS, "error: harness failure"))
        results.append(res)
        print(f"[{i}/{len(cases)}] {case.name} ({res.seconds:.1f} s): "
              + "; ".join(f"{k}: {v}" for k, v in res.verdicts.items()), flush=True)
    command = "bench/onnx_files.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    text = markdown(results, f".venv/bin/python {command}")
    Path(args.out).write_text(text)
    print("\n".join(summary(results)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
