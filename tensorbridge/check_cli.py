"""``tensorbridge check``: parity of one model, or of a zoo of models in parallel workers.

Exit codes (for CI gates): 0 parity, 1 mismatch, 2 conversion/usage error."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from tensorbridge.ir.errors import TensorbridgeError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="check a conversion against its source; exit 0 parity / 1 mismatch / 2 error")
    p.add_argument("model", nargs="?", help="a model file (.pt2, .onnx, .keras, .h5, SavedModel dir), or "
                   "module.py:factory (your code: factory() -> (model, example_inputs))")
    p.add_argument("--to", default="onnx", choices=["onnx", "torch", "tensorflow"])
    p.add_argument("--opset", type=int, default=None, help="target ai.onnx opset (as for convert)")
    p.add_argument("--inputs", help=".npz with the inputs, by graph input name")
    p.add_argument("--rtol", type=float)
    p.add_argument("--atol", type=float, help="absolute tolerance as a fraction of max|reference|")
    p.add_argument("--html", help="write the HTML report here")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--no-generated", action="store_true", help="only the example/given inputs")
    p.add_argument("--input-names", metavar="A,B", help="rename the model's inputs, in order")
    p.add_argument("--inputs-as-nchw", metavar="NAMES",
                   help="comma-separated NHWC image inputs of a Keras/TF model that the ONNX model "
                   "takes as NCHW (as tf2onnx's flag)")
    p.add_argument("--output-names", metavar="Y,Z", help="rename the model's outputs, in order")
    p.add_argument("--against", metavar="REFERENCE.onnx",
                   help="compare MODEL (an .onnx) with another ONNX model taken as the reference: "
                   "same inputs, outputs within tolerance (e.g. an optimised or re-exported copy)")
    p.add_argument("--zoo", help="YAML list of models to check in parallel workers")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600, help="seconds per zoo model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.zoo:
        return run_zoo(args, console)
    if not args.model:
        raise TensorbridgeError("check: give a MODEL or --zoo zoo.yaml")
    import tensorbridge as tb

    source, example = load_model_arg(args.model)
    inputs = npz_inputs(args.inputs) if args.inputs else None
    with progress_steps(console, "converting") as step:
        if args.against:
            from tensorbridge.against import check_against

            report = check_against(args.against, args.model, inputs, rtol=args.rtol, atol=args.atol,
                                   generated=not args.no_generated, progress=step)
        else:
            from tensorbridge.io_names import split_names

            report = tb.check(source, example, to=args.to, inputs=inputs, opset=args.opset,
                              rtol=args.rtol, atol=args.atol, generated=not args.no_generated,
                              progress=step, input_names=split_names(args.input_names),
                              inputs_as_nchw=split_names(args.inputs_as_nchw),
                              output_names=split_names(args.output_names))
    print_report(report, console)
    if args.json:
        report.to_json(args.json)
    if args.html:
        report.to_html(args.html)
    return 0 if report.ok else 1


@contextlib.contextmanager
def progress_steps(console: Console, first: str) -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress line for a long command, shown only on a terminal; yields
    ``step(what, done, total)`` (the validation's progress callback)."""
    from rich.progress import Progress

    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(first, total=None)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield step


def load_model_arg(spec: str) -> tuple[Any, Any]:
    """``path.pt2`` / ``path.onnx`` -> (path, None); ``file.py:factory`` -> factory()."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        path, name = spec.split(":", 1)
        if not Path(path).is_file():
            raise TensorbridgeError(f"check: no such file {path!r}")
        mod_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
        module = importlib.util.module_from_spec(mod_spec)  # type: ignore[arg-type]
        mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
        factory = getattr(module, name, None)
        if factory is None:
            raise TensorbridgeError(f"check: {path} has no {name!r}")
        made = factory()
        if not isinstance(made, tuple) or len(made) != 2:
            raise TensorbridgeError(f"check: {spec}() must return (model, example_inputs)")
        return made
    if not Path(spec).exists():
        raise TensorbridgeError(f"check: no such model {spec!r}")
    return spec, None


def npz_inputs(path: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz, by name (matched to the model's input names by the check).

    Each member's .npy header is checked before anything is read (no pickled objects, and a
    declared shape that matches the bytes stored), so a hostile file cannot make numpy
    allocate what it does not hold or unpickle anything."""
    import zipfile
    import zlib

    how = "write one with numpy.savez(path, name=array)"
    p = Path(path)
    if p.is_dir():
        raise TensorbridgeError(f"--inputs {path}: is a directory, not an .npz file; {how}")
    if not p.is_file():
        raise TensorbridgeError(f"--inputs {path}: no such file; {how}")
    try:
        if not zipfile.is_zipfile(p):
            with open(p, "rb") as f:
                single = f.read(6) == b"\x93NUMPY"
            what = "a single .npy array, not an .npz archive" if single else "not an .npz archive"
            raise TensorbridgeError(f"--inputs {path}: {what}; {how}")
        with zipfile.ZipFile(p) as z:
            for info in z.infolist():
                _check_npy_member(z, info, path, how)
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except TensorbridgeError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, MemoryError) as e:
        raise TensorbridgeError(f"--inputs {path}: not a readable .npz of arrays "
                                f"({type(e).__name__}: {str(e)[:120]}); {how}") from e


def _check_npy_member(z: Any, info: Any, path: str, how: str) -> None:
    """One .npz member: an .npy array of a plain dtype whose header agrees with its size."""
    fmt = np.lib.format
    name = info.filename
    if not name.endswith(".npy"):
        raise TensorbridgeError(f"--inputs {path}: member {name[:60]!r} is not an .npy array; {how}")
    with z.open(info) as f:
        version = fmt.read_magic(f)
        header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = header(f, max_header_size=10_000)
        stored = info.file_size - f.tell()
    if dtype.hasobject:
        raise TensorbridgeError(f"--inputs {path}: array {name[:-4][:60]!r} holds Python objects, "
                                f"which are never unpickled; store numeric or string arrays; {how}")
    count = 1
    for d in shape:
        count *= int(d)
    if count * dtype.itemsize != stored:
        raise TensorbridgeError(f"--inputs {path}: array {name[:-4][:60]!r} declares shape "
                                f"{tuple(shape)} of {dtype} but stores {stored:,} bytes; the file "
                                f"is corrupt; {how}")


def print_report(report: Any, console: Console) -> None:
    style = "bold green" if report.ok else "bold red"
    console.print(report.verdict(), style=style, markup=False, highlight=False)
    table = Table(show_header=True)
    for col in ("inputs", "runtime", "output", "max abs", "max rel", "verdict"):
        table.add_column(col)
    for c in report.comparisons:
        table.add_row(c.input_set, c.runtime, c.output, f"{c.max_abs:.2e}", f"{c.max_rel:.2e}",
                      "ok" if c.ok else "[red]MISMATCH[/]")
    console.print(table)
    d = report.first_divergence
    if d is not None:
        console.print(f"first divergence: {d.module or '<top level>'} ({', '.join(d.ops)}) at {d.location}; "
                      f"max abs {d.max_abs:.2e} - {d.detail}", markup=False)
    for e in report.errors:
        console.print(f"error: {e}", style="red", markup=False, soft_wrap=True)
    for note in getattr(report, "notes", ()):
        console.print(f"note: {note}", style="yellow", markup=False, soft_wrap=True)


# ---------------------------------------------------------------- zoo sweeps
def run_zoo(args: argparse.Namespace, console: Console) -> int:
    entries = _read_zoo(Path(args.zoo))
    rows: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for row in pool.map(lambda e: _check_one(e, args), entries):
            rows.append(row)
            console.print(f"  {row['model']}: {row['verdict']}", markup=False)
    table = Table(title=f"zoo {args.zoo}")
    for col in ("model", "target", "verdict", "worst rel error", "convert s", "seconds"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], r["target"], r["verdict"], r["worst"], r["convert_s"], r["seconds"])
    console.print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["verdict"] == "pass" for r in rows) else 1


def _read_zoo(path: Path) -> list[dict[str, Any]]:
    try:
        import yaml
    except ImportError as e:
        raise TensorbridgeError(f"--zoo {path}: reading a YAML list needs pyyaml: "
                                "pip install 'tensorbridge[cli]'") from e

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise TensorbridgeError(f"{path}: cannot read the zoo file ({e})") from e
    models = data.get("models") if isinstance(data, dict) else data
    if not isinstance(models, list) or not all(isinstance(m, dict) and "model" in m for m in models):
        raise TensorbridgeError(f"{path}: expected 'models: [{{name: ..., model: ...}}, ...]'")
    base = path.parent
    return [{"name": m.get("name", m["model"]), "model": _resolve(base, m["model"]),
             "to": m.get("to", "onnx")} for m in models]


def _resolve(base: Path, spec: str) -> str:
    file, sep, rest = spec.partition(":") if ".py:" in spec else (spec, "", "")
    p = Path(file)
    return str(p if p.is_absolute() else base / p) + (sep + rest)


def _check_one(entry: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """One model in its own process: a crash or hang cannot stop the sweep."""
    row = {"model": entry["name"], "target": entry["to"], "verdict": "error", "worst": "-",
           "convert_s": "-", "seconds": "-"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "tensorbridge", "check", entry["model"], "--to", entry["to"], "--json", str(out)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                  env={**os.environ, "PYTHONWARNINGS": "ignore"})
        except subprocess.TimeoutExpired:
            row["verdict"] = f"timeout ({args.timeout:g} s)"
            return row
        row["seconds"] = f"{time.perf_counter() - t0:.1f}"
        if out.exists():
            rep = json.loads(out.read_text())
            worst = max((c["max_rel"] for c in rep["comparisons"]), default=0.0)
            row.update(verdict="pass" if rep["ok"] else "mismatch", worst=f"{worst:.2e}",
                       convert_s=f"{rep['timings'].get('convert_s', 0):.2f}")
        else:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["crashed"]
            row["verdict"] = f"error: {tail[0][:120]}"
    return row
