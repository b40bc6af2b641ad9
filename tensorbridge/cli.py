"""The ``tensorbridge`` command: inspect, convert, run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorbridge.ir.errors import TensorbridgeError

if TYPE_CHECKING:
    from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    try:
        return int(args.func(args, console))
    except TensorbridgeError as e:
        if args.debug:
            raise
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as e:  # a bug of ours, not the user's: one line, the traceback on --debug
        if args.debug:
            raise
        _error(f"internal error: {type(e).__name__}: {str(e)[:300]}. This is a tensorbridge bug; "
               "rerun with --debug for the traceback and please report it")
        return 3


def _error(message: str) -> None:
    from rich.console import Console
    from rich.text import Text

    # the message as text (provenance like "[pytorch conv1]" is not markup), unwrapped so
    # that paths in it stay whole
    Console(stderr=True).print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True,
                               highlight=False)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (docs/cli.md is generated from it)."""
    from tensorbridge import __version__

    p = argparse.ArgumentParser(prog="tensorbridge", description=__doc__)
    p.add_argument("--version", action="version", version=f"tensorbridge {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks of errors")
    sub = p.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="summarize a model: ops, inputs/outputs, parameters, opset")
    ins.add_argument("model", help="a model file: .onnx, .pt2, .keras, .h5 or a SavedModel dir")
    ins.set_defaults(func=_inspect)
    conv = sub.add_parser("convert", help="convert a model (.onnx, .pt2, .keras, .h5, SavedModel dir) to ONNX, "
                          "PyTorch or TensorFlow")
    conv.add_argument("model", help="a .onnx file, a torch.export .pt2 archive, a .keras or .h5 Keras "
                      "model or a SavedModel dir (recognised by its bytes, not its name)")
    conv.add_argument("-o", "--output", required=True,
                      help="output: a .onnx path; a folder for --to torch (model.py + model.safetensors) "
                      "or --to tensorflow (SavedModel)")
    conv.add_argument("--to", default="onnx", choices=["onnx", "torch", "tensorflow"])
    conv.add_argument("--opset", type=int, default=None, help="target ai.onnx opset")
    conv.add_argument("--inputs", help=".npz of example inputs, by graph input name (default: "
                      "the .pt2's own example inputs, else generated from the input types)")
    conv.add_argument("--external-data", action="store_true", help="store weights in <output>.data")
    conv.add_argument("--input-names", metavar="A,B", help="rename the model's inputs, in order")
    conv.add_argument("--output-names", metavar="Y,Z", help="rename the model's outputs, in order")
    conv.add_argument("--check", action="store_true",
                      help="also validate the written file itself, loaded back, on generated inputs, and "
                      "print the parity report (exit 1 on mismatch)")
    conv.add_argument("--inputs-as-nchw", metavar="NAMES",
                      help="comma-separated NHWC image inputs of a Keras/TF model that the ONNX model "
                      "takes as NCHW (as tf2onnx's flag)")
    conv.add_argument("--no-validate", action="store_true",
                      help="write the result without comparing it with the source (not recommended)")
    conv.set_defaults(func=_convert)
    run = sub.add_parser("run", help="run a model on the built-in runtime")
    run.add_argument("model", help="a model file, as for convert")
    run.add_argument("--inputs", help=".npz with one array per graph input (by name; default: "
                     "generated from the input types, named dims at size 2)")
    run.add_argument("-o", "--output", help="write outputs to this .npz")
    run.add_argument("--profile", action="store_true",
                     help="also print time per op type and the slowest plan steps (mean of 5 more runs)")
    run.set_defaults(func=_run)
    from tensorbridge import check_cli

    check_cli.add_parser(sub)
    from tensorbridge import sweep

    sweep.add_parser(sub)
    cov = sub.add_parser("coverage", help="print an operator coverage table (markdown)")
    cov.add_argument("layer", choices=["runtime", "pytorch", "tensorflow", "emitters"])
    cov.set_defaults(func=_coverage)
    return p


def _coverage(args: argparse.Namespace, console: Console) -> int:
    if args.layer == "pytorch":
        from tensorbridge.converters.pytorch.coverage import coverage_markdown
    elif args.layer == "tensorflow":
        from tensorbridge.converters.tensorflow.coverage import coverage_markdown  # type: ignore[assignment]
    elif args.layer == "emitters":
        from tensorbridge.emit_coverage import coverage_markdown  # type: ignore[assignment]
    else:
        from tensorbridge.runtime.coverage import coverage_markdown  # type: ignore[assignment]
    print(coverage_markdown())
    return 0


def _inspect(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table
    from rich.text import Text

    import tensorbridge as tb
    from tensorbridge.summary import summarize

    s = summarize(tb.load(args.model))
    head = Table(title=f"{args.model}  (graph {s.name!r})", show_header=False)
    head.add_row("opsets", ", ".join(f"{d} {v}" for d, v in s.opsets.items()))
    head.add_row("ops", f"{s.n_ops} ({len(s.op_histogram)} kinds, {s.subgraphs} subgraphs)")
    head.add_row("parameters", f"{s.n_parameters:,} in {s.n_initializers} initializers "
                 f"({s.weight_bytes / 2**20:.2f} MiB)")
    console.print(head)
    io = Table(title="inputs / outputs")
    io.add_column("kind")
    io.add_column("name")
    io.add_column("type")
    for name, t in s.inputs:
        io.add_row("input", Text(name), Text(t))  # Text: "[batch,3,32,32]" is not markup
    for name, t in s.outputs:
        io.add_row("output", Text(name), Text(t))
    console.print(io)
    ops = Table(title="op histogram")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in s.op_histogram:
        ops.add_row(op, str(n))
    console.print(ops)
    return 0


def _convert(args: argparse.Namespace, console: Console) -> int:
    """Convert once; validate the in-memory result (unless --no-validate), write it, and with
    --check validate the written file itself, loaded back, on generated inputs too."""
    import tensorbridge as tb
    from tensorbridge.check import validate
    from tensorbridge.check_cli import npz_inputs, print_report, progress_steps
    from tensorbridge.io_names import apply_io_names, split_names
    from tensorbridge.route import build, emit_target

    t0 = time.perf_counter()
    _check_output(Path(args.output), args.to)  # before any conversion work
    inputs = npz_inputs(args.inputs) if args.inputs else None
    report = None
    with progress_steps(console, f"reading {args.model}") as step:
        conv = build(args.model, None, args.to, opset=args.opset,
                     inputs_as_nchw=split_names(args.inputs_as_nchw))
        apply_io_names(conv.graph, split_names(args.input_names), split_names(args.output_names))
        if not args.no_validate or args.check:
            step(f"validating the {args.to} model", 0, 1)
            report = validate(conv, inputs, generated=args.check, progress=step)
        else:
            step(f"emitting the {args.to} model", 0, 1)
            emit_target(conv)
        if report is None or report.ok:
            step(f"writing {args.output}", 1, 1)
            out = tb.save(conv.artifact, args.output, external_data=True if args.external_data else None)
    if report is not None and not report.ok:
        print_report(report, console)
        console.print("nothing was written: the converted model does not match its source "
                      "(--no-validate writes it anyway)", style="red", markup=False)
        return 1
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) if out.is_dir() else out.stat().st_size
    console.print(f"wrote {out} ({size:,} bytes) in {time.perf_counter() - t0:.2f}s"
                  + (" - validated against the source" if report is not None else " - NOT validated"))
    if args.check and report is not None:
        reread = _reloaded(conv, out)
        written = validate(reread, inputs, generated=True, tolerance=report.tolerance,
                           own_tolerances=report.set_tolerances)
        written.source = f"{written.source} (as written to {out})"
        print_report(written, console)
        return 0 if written.ok else 1
    return 0


def _check_output(out: Path, to: str) -> None:
    from tensorbridge.converters.files import check_file_target

    if to == "onnx":
        check_file_target(out)
    elif not out.parent.is_dir():
        raise TensorbridgeError(f"-o {out}: directory {out.parent} does not exist; create it first")
    elif out.exists() and not out.is_dir():
        raise TensorbridgeError(f"-o {out}: is a file; --to {to} writes a folder")


def _reloaded(conv: Any, out: Path) -> Any:
    """``conv`` with its artifact replaced by the file (or folder) just written, read back."""
    import dataclasses

    from tensorbridge.migrate import load_saved

    artifact = out if conv.target == "onnx" else load_saved(out, conv.target)
    return dataclasses.replace(conv, artifact=artifact)


def _run(args: argparse.Namespace, console: Console) -> int:
    import numpy as np
    from rich.table import Table
    from rich.text import Text

    import tensorbridge as tb
    from tensorbridge.check_cli import npz_inputs
    from tensorbridge.runtime.session import Session

    if args.output:
        from tensorbridge.converters.files import check_file_target

        check_file_target(Path(args.output))
    graph = tb.load(args.model)
    if args.inputs:
        feeds: Any = npz_inputs(args.inputs)
    else:
        from tensorbridge.inputs import example_from_graph

        feeds = example_from_graph(graph)
    session = Session(graph, profile=args.profile)
    outs = session.run(feeds)
    table = Table(title="outputs")
    for col in ("name", "dtype", "shape", "mean"):
        table.add_column(col)
    for v, y in zip(graph.outputs, outs):
        arr = np.asarray(y)
        mean = f"{arr.astype(np.float64).mean():.6g}" if arr.dtype.kind in "fiub" and arr.size else "-"
        table.add_row(Text(v.name), str(arr.dtype), Text(str(list(arr.shape))), mean)
    console.print(table)
    if args.profile:
        from tensorbridge.profile_cli import profile_session

        profile_session(session, feeds, console)
    if args.output:
        np.savez(args.output, **{v.name: np.asarray(y) for v, y in zip(graph.outputs, outs)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
