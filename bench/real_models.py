"""Real-model sweep: does ``tb.convert`` keep its promise on architectures written by others?

    .venv/bin/python bench/real_models.py [--models a b ...] [--targets onnx torch tensorflow]
                                          [--out docs/real-models.md] [--json out.json]
                                          [--timeout SECONDS] [--list]

For every model of the registry (bench/architectures.py: timm, torchvision, transformers, keras.applications;
random seeded weights, small inputs, none of them in the tests) and every target, the sweep
times ``tb.convert(model, example_inputs, to=target)`` and then checks what came back *itself*,
without trusting tensorbridge's own validation:

* ONNX: ``onnx.checker.check_model(full_check=True)``; onnxruntime (one thread, no spinning)
  and ``tb.run`` on the example inputs and on one other random input of the same shapes;
* torch / tensorflow: ``tensorbridge.migrate.run_emitted`` on the same two inputs, and the
  trainable structure of the emitted module against the source's (distinct trainable
  tensors, their element counts, tie groups; frozen tensors must not become trainable);
* every output is compared with the source framework's eager output:
  error = max|got - eager| / max|eager|, within ``TOLERANCE`` (float32) or exactly equal
  (integer outputs); for a source whose own float32 error against the same model in float64
  is larger, the tolerance is ``NOISE_FACTOR`` times that noise floor (reported per model).

Verdicts: ``ok``; ``clean error: <class>: <msg>`` (a tensorbridge.TensorbridgeError subclass,
``ParityError`` included: the user is told); ``WRONG (err x)`` (a returned result out of
tolerance); ``invalid ONNX: ...`` (returned ONNX that the full checker or onnxruntime
rejects); ``structure differs: ...``; ``crash: <raw exception>`` (anything else, a timeout
or a dead worker process included).

Each model runs in its own worker process (one thread per framework) with a timeout, so a
crash or hang costs only that model's remaining targets (the sweep restarts a worker for
them). Results stream to the terminal; the Markdown table (and, with ``--json``, the raw
records) are written at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.architectures import REGISTRY, WIDE_KERAS  # noqa: E402
from tensorbridge.sweep_checks import NOISE_FACTOR, TOLERANCE, noise_floor  # noqa: E402
from tensorbridge.sweep_checks import eager as _eager  # noqa: E402
from tensorbridge.sweep_checks import error as _error  # noqa: E402
from tensorbridge.sweep_checks import first_line as _first_line  # noqa: E402
from tensorbridge.sweep_checks import numpy_of as _numpy  # noqa: E402
from tensorbridge.sweep_checks import redraw as _redraw  # noqa: E402
from tensorbridge.sweep_families import declare_torchvision_ops  # noqa: E402

TARGETS = ("onnx", "torch", "tensorflow")
DEFAULT_TIMEOUT = 900.0  # seconds per worker process (one model, all its remaining targets)
COMMAND = ".venv/bin/python bench/real_models.py --out docs/real-models.md --json out/real_models.json"


# --------------------------------------------------------------------------------------------
# the worker: one model, the requested targets, one JSON record per target
# --------------------------------------------------------------------------------------------

def _noise_floor(source: Any, family: str, feeds: Sequence[np.ndarray], expected: list[np.ndarray]) -> float | None:
    """The float32 source's own error against the same model in float64 (see
    tensorbridge.sweep_checks.noise_floor)."""
    return noise_floor(source, family, feeds, expected, WIDE_KERAS.get(id(source)))


def _structure(obj: Any) -> dict[str, Any]:
    """Trainable structure: distinct trainable / frozen tensors (element counts, sorted sizes)
    and tie groups (names sharing one tensor)."""
    groups: dict[int, tuple[Any, list[str], bool]] = {}
    if hasattr(obj, "named_parameters"):  # torch (source or emitted)
        for name, p in obj.named_parameters(remove_duplicate=False):
            groups.setdefault(id(p), (p, [], p.requires_grad))[1].append(name)
        buffers = {id(b): b for b in obj.buffers()}
        n_buffers = len(buffers)
    elif hasattr(obj, "trainable_weights"):  # Keras source
        for w in obj.weights:
            trainable = any(w is t for t in obj.trainable_weights)
            groups.setdefault(id(w), (w, [], trainable))[1].append(w.path)
        n_buffers = 0
    else:  # emitted tf.Module
        for key, v in getattr(obj, "weights", {}).items():
            groups.setdefault(id(v), (v, [], bool(v.trainable)))[1].append(key)
        n_buffers = 0
    def sizes(trainable: bool) -> list[int]:
        return sorted(int(np.prod(tuple(t.shape))) for t, _, tr in groups.values() if tr == trainable)
    return {
        "trainable_tensors": len(sizes(True)), "trainable_elements": sum(sizes(True)),
        "trainable_sizes": sizes(True),
        "frozen_tensors": len(sizes(False)), "frozen_elements": sum(sizes(False)),
        "buffers": n_buffers,
        "ties": sorted(sorted(names) for _, names, _ in groups.values() if len(names) > 1),
        "trainable_names": sorted(n.removesuffix(":0") for _, names, tr in groups.values() if tr
                                  for n in names),
    }


def _structure_diff(src: dict[str, Any], out: dict[str, Any]) -> str:
    """'' when the emitted module trains what the source trains, else what differs."""
    diffs = []
    for key, label in (("trainable_tensors", "trainable tensors"), ("trainable_elements", "trainable elements")):
        if src[key] != out[key]:
            diffs.append(f"{label} {out[key]} vs source {src[key]}")
    if not diffs and src["trainable_sizes"] != out["trainable_sizes"]:
        diffs.append("trainable tensor sizes differ")
    if src["ties"] and len(out["ties"]) < len(src["ties"]) and out["trainable_tensors"] > src["trainable_tensors"]:
        diffs.append(f"tie(s) lost: {'; '.join('='.join(t) for t in src['ties'][:3])}")
    return ", ".join(diffs)


def _validate_onnx(proto: Any, feed_sets: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> dict:
    import onnx
    import onnxruntime as ort

    import tensorbridge as tb

    rec: dict[str, Any] = {}
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # noqa: BLE001 - any checker failure is the finding
        rec["invalid"] = f"checker: {_first_line(e)}"
        return rec
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        rec["err_ort"], rec["why_ort"] = max(_error(sess.run(None, dict(zip(names, f))), e)
                                             for f, e in zip(feed_sets, expected))
    except Exception as e:  # noqa: BLE001
        rec["invalid"] = f"onnxruntime: {type(e).__name__}: {_first_line(e)}"
        return rec
    try:
        rec["err_tb_run"], rec["why_tb_run"] = max(_error(tb.run(proto, *f), e)
                                                   for f, e in zip(feed_sets, expected))
    except Exception as e:  # noqa: BLE001
        rec["tb_run_failed"] = f"{type(e).__name__}: {_first_line(e)}"
        rec["err_tb_run"] = float("inf")
    rec["err"] = max(rec["err_ort"], rec["err_tb_run"])
    return rec


def _validate_emitted(module: Any, feed_sets: list[list[np.ndarray]], expected: list[list[np.ndarray]],
                      source_structure: dict[str, Any]) -> dict:
    from tensorbridge.migrate import run_emitted

    rec: dict[str, Any] = {}
    try:
        rec["err"], rec["why"] = max(_error(run_emitted(module, list(f)), e) for f, e in zip(feed_sets, expected))
    except Exception as e:  # noqa: BLE001 - the emitted module failing to run is the finding
        rec["run_failed"] = f"{type(e).__name__}: {_first_line(e)}"
        rec["err"] = float("inf")
    rec["structure"] = out = _structure(module)
    rec["structure_diff"] = _structure_diff(source_structure, out)
    def norm(names: list[str]) -> set[str]:  # "conv1/kernel", "conv1.kernel", "conv1_kernel" alike
        return {re.sub(r"[^0-9A-Za-z]+", "_", n) for n in names}
    missing = sorted(norm(source_structure["trainable_names"]) - norm(out["trainable_names"]))
    rec["names_not_kept"] = len(missing)
    rec["names_not_kept_examples"] = missing[:3]
    return rec


def _where(e: BaseException) -> str:
    """The innermost traceback frame in tensorbridge's own code (where an exception came from)."""
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename and "/lib/python" not in f.filename
            and not f.filename.endswith("real_models.py")]
    if not ours:
        return ""
    f = ours[-1]
    parts = Path(f.filename).parts
    top = next((i for i, part in enumerate(parts) if part in ("ir", "runtime", "converters", "tensorbridge")),
               len(parts) - 1)
    return f"{'/'.join(parts[top:])}:{f.lineno} in {f.name}"


def verdict(rec: dict[str, Any]) -> str:
    """The cell's verdict from a record (see the module docstring)."""
    if rec.get("skipped"):
        return f"skipped: {rec['skipped']}"
    if "error_class" in rec:
        kind = "clean error" if rec.get("clean") else "crash"
        return f"{kind}: {rec['error_class']}: {rec['error']}"
    if rec.get("invalid"):
        return f"invalid ONNX: {rec['invalid']}"
    if rec.get("run_failed"):
        return f"crash: emitted module fails to run: {rec['run_failed']}"
    if rec.get("tb_run_failed"):
        return f"crash: tb.run fails on the returned ONNX: {rec['tb_run_failed']}"
    if not rec["err"] <= rec.get("tolerance", TOLERANCE):
        return f"WRONG (err {rec['err']:.2g})"
    if rec.get("structure_diff"):
        return f"structure differs: {rec['structure_diff']}"
    return "ok"


def category(v: str) -> str:
    return v.split(":")[0].split(" (")[0]


def run_worker(name: str, targets: Sequence[str], out: Path) -> None:
    """Convert one model to each target and append one JSON record per target to ``out``."""
    import tensorbridge as tb

    entry = REGISTRY[name]
    try:
        model_obj, example = entry.build()
        feeds = [_numpy(x) for x in example]
        other = [_redraw(f, np.random.default_rng(7)) for f in feeds]
        expected = [_eager(model_obj, entry.family, feeds), _eager(model_obj, entry.family, other)]
        source_structure = _structure(model_obj)
        sensitive = any(not np.array_equal(a, b) for a, b in zip(*expected))
        noise = _noise_floor(model_obj, entry.family, feeds, expected[0])
        tolerance = max(TOLERANCE, NOISE_FACTOR * noise) if noise is not None else TOLERANCE
    except Exception as e:  # noqa: BLE001 - the builder (this script) failed, not tensorbridge
        with out.open("a") as fh:
            for target in targets:
                rec = {"model": name, "family": entry.family, "target": target, "seconds": None,
                       "skipped": f"builder failed: {type(e).__name__}: {_first_line(e)}"}
                rec["verdict"] = verdict(rec)
                fh.write(json.dumps(rec) + "\n")
        return
    parity_error = getattr(tb, "ParityError", None)
    for target in targets:
        rec: dict[str, Any] = {"model": name, "family": entry.family, "target": target,
                               "input_sensitive": sensitive, "noise": noise, "tolerance": tolerance}
        t0 = time.perf_counter()
        try:
            result = tb.convert(model_obj, example, to=target)
        except Exception as e:  # noqa: BLE001 - classifying the exception is the point
            rec["seconds"] = time.perf_counter() - t0
            rec.update(error_class=type(e).__name__, error=_first_line(e), where=_where(e),
                       clean=isinstance(e, tb.TensorbridgeError),
                       parity_error=bool(parity_error and isinstance(e, parity_error)))
        else:
            rec["seconds"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            if target == "onnx":
                rec.update(_validate_onnx(result, [feeds, other], expected))
            else:
                rec.update(_validate_emitted(result, [feeds, other], expected, source_structure))
            rec["check_seconds"] = time.perf_counter() - t1
            del result
        rec["source_structure"] = {k: v for k, v in source_structure.items()
                                   if k not in ("trainable_sizes", "trainable_names")}
        if "structure" in rec:
            rec["structure"] = {k: v for k, v in rec["structure"].items()
                                if k not in ("trainable_sizes", "trainable_names")}
        rec["verdict"] = verdict(rec)
        with out.open("a") as fh:
            fh.write(json.dumps(rec, default=float) + "\n")


def _worker_main(name: str, targets: Sequence[str], out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import torch

    torch.set_num_threads(1)
    declare_torchvision_ops()
    if REGISTRY[name].family == "keras" or "tensorflow" in targets:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import warnings

    warnings.simplefilter("ignore")
    run_worker(name, targets, out)


# --------------------------------------------------------------------------------------------
# the sweep: one worker process per model, streamed, then the table
# --------------------------------------------------------------------------------------------

def sweep(names: Sequence[str], targets: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
          log_dir: Path | None = None, tree: Path | None = None,
          echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every model in its own worker process; a worker that dies or hangs costs only the
    target it was on (a new worker takes the remaining ones)."""
    records: list[dict[str, Any]] = []
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="real_models_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        remaining = list(targets)
        while remaining:
            got = _run_one(name, remaining, timeout, log_dir, tree)
            for rec in got:
                records.append(rec)
                echo(_line(rec))
            done = {r["target"] for r in got}
            remaining = [t for t in remaining if t not in done]
            if remaining:  # the worker died or hung on the first of them
                rec = _lost(name, remaining[0], log_dir)
                records.append(rec)
                echo(_line(rec))
                remaining = remaining[1:]
    return records


def _run_one(name: str, targets: Sequence[str], timeout: float, log_dir: Path,
             tree: Path | None = None) -> list[dict[str, Any]]:
    out = log_dir / f"{name}.jsonl"
    out.unlink(missing_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2",
               TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--result-file", str(out),
           "--targets", *targets] + (["--tree", str(tree.resolve())] if tree else [])
    with (log_dir / f"{name}.log").open("a") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the worker's own process group only
            proc.wait()
            rc = "timeout"
    (log_dir / f"{name}.rc").write_text(str(rc))
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _lost(name: str, target: str, log_dir: Path) -> dict[str, Any]:
    rc = (log_dir / f"{name}.rc").read_text()
    tail = [ln for ln in (log_dir / f"{name}.log").read_text(errors="replace").splitlines() if ln.strip()][-1:]
    why = "timeout" if rc == "timeout" else f"worker exited with {rc}"
    rec = {"model": name, "family": REGISTRY[name].family, "target": target, "seconds": None,
           "error_class": "WorkerLost", "error": f"{why}; last log line: {tail[0][:200] if tail else ''}",
           "clean": False}
    rec["verdict"] = verdict(rec)
    return rec


def _line(rec: dict[str, Any]) -> str:
    secs = f"{rec['seconds']:.1f}s" if rec.get("seconds") is not None else "-"
    return f"{rec['model']:<28} {rec['target']:<10} {secs:>7}  {rec['verdict']}"


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------

# Diagnoses of cells seen failing: (verdict prefix, cause), printed only while the cell still
# fails that way; with the minimal reproduction where one was found.
_LAYERNORM_ONE_ROW = (
    "TensorFlow emitter: LayerNormalization over an input with a single row (batch x tokens = 1) "
    "is off: `nn.LayerNorm(192, eps=1e-6)` on `torch.randn(1, 1, 192)` -> 4e-4, on "
    "`0.1 * torch.randn(1, 1, 192)` -> 4e-2, on `0.02 * randn` -> 0.43; on (1, 17, 192) or "
    "(4, 17, 192) it is exact. The error grows as the row's variance shrinks: an epsilon much "
    "larger than 1e-6 (issue 12's LayerNorm case). ONNX and PyTorch are exact")
_TIES = ("parameter ties are not preserved: every name of a shared tensor becomes its own "
         "trainable parameter/variable (issue 12, item 4); outputs are right")


def _for(model: str, targets: Sequence[str], seen: str, cause: str) -> dict[tuple[str, str], tuple[str, str]]:
    return {(model, t): (seen, cause) for t in targets}


MIGRATIONS = ("torch", "tensorflow")
_RELAID = ("clean error: ParityError", "the migration pipeline re-lays out a parameter that is "
           "read through a Transpose/Reshape/broadcast (cls_token (1, 1, C) -> (1, C, 1), pos_embed "
           "(1, N, C) -> (C, N), layer_scale.gamma (C, 1, 1) -> (C,)): the emitted model computes "
           "the right outputs (about 3e-7 with validate=False) but its parameter no longer has "
           "the source's shape, which the new validation rejects. Fix in the pass that folds "
           "Transposes into weights: with keep_weight_layout a parameter keeps its shape")
CAUSES: dict[tuple[str, str], tuple[str, str]] = {
    ("timm_cait_small_cfg", "tensorflow"): ("WRONG", _LAYERNORM_ONE_ROW + "; here the class token's "
    "`norm2` in the class-attention blocks (a (1, 1, 192) tensor that starts from the 0.02-std "
    "cls_token)"),
    ("timm_beit_small_cfg", "tensorflow"): ("WRONG", _LAYERNORM_ONE_ROW + "; here `fc_norm` on "
                                            "the average-pooled (1, 64) features"),
    **{(m, t): _RELAID for m in ("timm_vit_tiny", "timm_deit_tiny_distilled", "timm_cait_small_cfg",
                                 "tv_vit_small_cfg") for t in MIGRATIONS},
    ("timm_beit_small_cfg", "torch"): _RELAID,
    ("timm_fastvit_t8", "tensorflow"): _RELAID,
    **_for("timm_coat_lite_tiny", MIGRATIONS, "structure differs", _TIES + "; CoaT shares each stage's conv positional "
           "encoding (`cpe1` = `serial_blocks1.{0,1}.cpe`)"),
    **_for("hf_gpt2_lm_head", MIGRATIONS, "structure differs", _TIES + "; `lm_head.weight` is `transformer.wte.weight`"),
    **_for("hf_bert_mlm", MIGRATIONS, "structure differs", _TIES + "; the MLM decoder weight is the word embedding, its "
           "bias is `cls.predictions.bias`"),
    **_for("hf_t5_encoder", MIGRATIONS, "structure differs", _TIES + "; `encoder.embed_tokens` is `shared`"),
    **_for("hf_opt_lm", MIGRATIONS, "structure differs", _TIES + "; `lm_head.weight` is `decoder.embed_tokens.weight`"),
    **_for("hf_whisper_encoder", MIGRATIONS, "structure differs", "a frozen parameter becomes trainable: "
           "`embed_positions.weight` (requires_grad=False in the source, 16 x 32 = 512 elements) "
           "is trainable in the emitted module (issue 12, item 4)"),
    ("keras_resnet50v2", "onnx"): ("invalid ONNX", "stale stored shape after the padding fusion: ZeroPadding2D + "
    "Conv2D (the stem's conv1_pad + conv1_conv) is fused into one padded Conv, but the value after "
    "the conv's Transpose keeps the shape of the unpadded conv (70 vs 64), so the full checker "
    "rejects the file (issue 12's keras padding case); tb.run and onnxruntime compute it right"),
    **_for("timm_levit_128s", TARGETS, "clean error: ConversionError", "unsupported op `aten::reshape_as` (LeViT's attention, "
           "timm/models/levit.py:110); a clean UnsupportedOp report"),
    **_for("tv_swin_small_cfg", TARGETS, "clean error: ConversionError", "unsupported op `aten::slice_scatter` (torchvision Swin's "
           "shifted-window attention mask built by slice assignment, swin_transformer.py:299); a "
           "clean report"),
}


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for pkg in ("tensorbridge", "torch", "timm", "torchvision", "transformers", "tensorflow-cpu", "keras",
                "onnx", "onnxruntime"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)


def _git_head() -> str:
    """The commit, and whether tracked files had uncommitted changes (the sweep ran on those)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"`{head}` + uncommitted changes to tracked files" if dirty else f"`{head}`"


def _cell(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return ""
    cat = category(rec["verdict"])
    if cat == "ok":
        text = "ok"
    elif cat in ("clean error", "crash"):
        text = f"{cat}: `{rec.get('error_class')}`"
    else:
        text = rec["verdict"].split(":")[0]
    if rec.get("err") is not None and rec.get("err") != float("inf") and "error_class" not in rec:
        text += f" ({rec['err']:.1e})"
    secs = rec.get("seconds")
    return f"{text}, {secs:.1f}s" if secs is not None else text


def markdown(records: list[dict[str, Any]], targets: Sequence[str], command: str, elapsed: float) -> str:
    by = {(r["model"], r["target"]): r for r in records}
    names = list(dict.fromkeys(r["model"] for r in records))
    lines = [
        "# Real models: tb.convert to ONNX, PyTorch and TensorFlow",
        "",
        "Generated by `bench/real_models.py` (do not edit by hand; re-run instead):",
        "",
        "```",
        command,
        "```",
        "",
        f"Run {datetime.date.today().isoformat()}, finished at commit {_git_head()}, {elapsed / 60:.0f} min, one "
        f"worker process per model, one thread. {_versions()}.",
        "",
        "Every model is built with random seeded weights from its library's own code (timm, "
        "torchvision, transformers, keras.applications; small configs and inputs; none of them "
        "is in the tests) and converted with `tb.convert(model, example_inputs, to=target)`. "
        "What comes back is checked by the script itself, not by tensorbridge: ONNX with "
        "`onnx.checker.check_model(full_check=True)`, onnxruntime and `tb.run`; migrations with "
        "`tensorbridge.migrate.run_emitted` and the emitted module's trainable structure "
        "(distinct trainable tensors and their sizes, tie groups) against the source's. "
        f"Outputs are compared with the source framework's eager output on the example input and on "
        f"one other random input: error = max|got - eager| / max|eager|, tolerance {TOLERANCE:g} "
        f"(float32; integer outputs exactly), or {NOISE_FACTOR}x the source's own float32-vs-float64 "
        "error when that is larger (the `noise` column). Constant-initialised "
        "tensors (zero biases and heads, unit norms, 1e-6 layer scales) are redrawn and "
        "BatchNorm statistics measured on a calibration batch, so that no branch is invisible and "
        "deep random networks neither collapse nor blow up.",
        "",
        "Verdicts: **ok**; **clean error** (a `tensorbridge.TensorbridgeError`, `ParityError` "
        "included: the user is told); **WRONG** (returned, out of tolerance); **invalid ONNX** "
        "(returned, rejected by the full checker or onnxruntime); **structure differs** "
        "(migration trains something else than the source); **crash** (a raw exception, a "
        "timeout or a dead worker). Cells: verdict (error), seconds of `tb.convert`.",
        "",
        "## Summary",
        "",
        "| verdict | " + " | ".join(targets) + " | total |",
        "|---|" + "---|" * (len(targets) + 1),
    ]
    counts = {t: Counter(category(by[(n, t)]["verdict"]) for n in names if (n, t) in by) for t in targets}
    cats = ["ok", "clean error", "WRONG", "invalid ONNX", "structure differs", "crash"]
    cats += sorted({c for cnt in counts.values() for c in cnt} - set(cats))
    for c in cats:
        row = [counts[t][c] for t in targets]
        lines.append(f"| {c} | " + " | ".join(str(x) for x in row) + f" | {sum(row)} |")
    lines += ["", f"{len(names)} models.", "", "## Table", "",
              "| model | library | exercises | noise | " + " | ".join(targets) + " |",
              "|---|---|---|---|" + "---|" * len(targets)]
    for n in names:
        e = REGISTRY[n]
        noise = next((r.get("noise") for r in records if r["model"] == n and r.get("noise") is not None), None)
        noise_text = f"{noise:.0e}" if noise is not None else "-"
        lines.append(f"| {n} | {e.family} | {e.what} | {noise_text} | " + " | ".join(_cell(by.get((n, t))) for t in targets) + " |")
    lines += ["", "## Every cell that is not ok", ""]
    for n in names:
        for t in targets:
            r = by.get((n, t))
            if r is None or r["verdict"] == "ok":
                continue
            lines.append(f"- **{n} -> {t}**: {r['verdict']}" + (f" (at `{r['where']}`)" if r.get("where") else ""))
            if r.get("input_sensitive") is False:
                lines.append("  - note: the source's output does not depend on its input (builder problem)")
            if r.get("names_not_kept"):
                lines.append(f"  - {r['names_not_kept']} source weight names not kept, e.g. "
                             f"{', '.join(r['names_not_kept_examples'])}")
            seen, cause = CAUSES.get((n, t), ("", ""))
            if cause and r["verdict"].startswith(seen):
                lines.append(f"  - cause: {cause}")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=sorted(REGISTRY), metavar="NAME",
                   help="models to run (default: all; --list shows them)")
    p.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    p.add_argument("--out", type=Path, help="write the Markdown table here (e.g. docs/real-models.md)")
    p.add_argument("--json", type=Path, help="write the raw records here")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per worker process")
    p.add_argument("--tree", type=Path, help="import tensorbridge from this source tree instead of the "
                   "working tree (e.g. a `git archive HEAD` snapshot while the working tree is mid-edit)")
    p.add_argument("--list", action="store_true", help="list the registry and exit")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))
    if args.worker:
        _worker_main(args.worker, args.targets, args.result_file)
        return 0
    if args.list:
        for e in REGISTRY.values():
            print(f"{e.name:<28} {e.family:<13} {e.what}")
        return 0
    names = args.models or list(REGISTRY)
    start = time.perf_counter()
    log_dir = ROOT / "out" / "real_models"
    print(f"{len(names)} models x {', '.join(args.targets)}; worker logs in {log_dir}", flush=True)
    records = sweep(names, args.targets, timeout=args.timeout, log_dir=log_dir, tree=args.tree,
                    echo=lambda s: print(s, flush=True))
    elapsed = time.perf_counter() - start
    command = ".venv/bin/python bench/real_models.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(records, args.targets, command.strip(), elapsed))
        print(f"wrote {args.out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=1, default=float))
        print(f"wrote {args.json}")
    total = Counter(category(r["verdict"]) for r in records)
    print(", ".join(f"{k}: {v}" for k, v in total.most_common()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
