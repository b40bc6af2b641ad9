"""Runtime benchmark: tensorbridge's numpy runtime vs onnx.reference vs onnxruntime.

    make bench                      # or: .venv/bin/python bench/bench_runtime.py [--runs N]

Models (random weights, seeded, exported once with torch.onnx.export and cached in out/bench):
  resnet18  ResNet-18 (torch.nn BasicBlocks) at 1x3x224x224
  bert4     transformers BertModel, 4 layers, hidden 256, 4 heads, seq 128

Latency: all runtimes in this one process and run, single-threaded (onnxruntime with
intra_op_num_threads=1 and spinning off; numpy's BLAS limited to one thread by the
environment this script sets before numpy loads). Median of N runs after a warm-up.
Peak memory: each runtime in a fresh subprocess; peak RSS minus the RSS after imports,
i.e. weights + the runtime's working memory.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "out" / "bench"
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- models
def _export(module, args: tuple, names: list[str], path: Path) -> None:
    import torch

    args = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=17, input_names=names)
    path.write_bytes(buf.getvalue())


def resnet18() -> tuple[Path, list[np.ndarray]]:
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    path = CACHE / "resnet18.onnx"
    if not path.exists():
        _export(_resnet18_module(), (x,), ["x"], path)
    return path, [x]


def _resnet18_module():
    import torch
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.down(x))

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            chans = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            self.layers = nn.Sequential(*[nn.Sequential(Basic(a, b, s), Basic(b, b, 1)) for a, b, s in chans])
            self.fc = nn.Linear(512, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    return ResNet18().eval()


def bert4() -> tuple[Path, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30522, (1, 128)).astype(np.int64)
    mask = np.ones((1, 128), np.int64)
    path = CACHE / "bert4.onnx"
    if not path.exists():
        import torch
        from transformers import BertConfig, BertModel

        cfg = BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=1024, max_position_embeddings=512)
        torch.manual_seed(0)
        bert = BertModel(cfg).eval()

        class Wrapper(torch.nn.Module):  # positional signature for the exporter
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        _export(Wrapper().eval(), (torch.from_numpy(ids), torch.from_numpy(mask)),
                ["input_ids", "attention_mask"], path)
    return path, [ids, mask]


MODELS = {"resnet18": resnet18, "bert4": bert4}


# ---------------------------------------------------------------- runtimes
def make_runner(name: str, path: Path):
    import onnx

    if name == "tensorbridge":
        from converters.onnx import to_ir
        from runtime.session import Session

        sess = Session(to_ir(path))
        return lambda feeds: sess.run(feeds)
    if name == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return lambda feeds: s.run(None, feeds)
    if name == "reference":
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(onnx.load(str(path)))
        return lambda feeds: ref.run(None, feeds)
    raise ValueError(name)


RUNTIMES = ("tensorbridge", "onnxruntime", "reference")


def feeds_for(path: Path, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    import onnx

    names = [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
    return dict(zip(names, inputs))


def time_runner(fn, feeds, runs: int) -> tuple[float, list[np.ndarray]]:
    out = fn(feeds)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_memory(model: str, runtime: str) -> float:
    """MiB: peak RSS of a fresh process running the model, minus its RSS after imports."""
    res = subprocess.run([sys.executable, __file__, "--memory-child", model, runtime],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"memory run of {runtime} on {model} failed:\n{res.stderr[-2000:]}")
    return float(res.stdout.strip().splitlines()[-1])


def memory_child(model: str, rt: str) -> None:
    import onnx  # noqa: F401

    import converters.onnx  # noqa: F401
    import runtime.session  # noqa: F401

    if rt == "onnxruntime":
        import onnxruntime  # noqa: F401
    if rt == "reference":
        import onnx.reference  # noqa: F401
    path, inputs = MODELS[model]()
    base = _rss_mib()
    fn = make_runner(rt, path)
    feeds = feeds_for(path, inputs)
    for _ in range(3):
        fn(feeds)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{peak - base:.1f}")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runtime latency, single thread, median of {args.runs} (same process)")
    for col in ("model", "runtime", "median ms", "x onnxruntime", "peak MiB", "max |diff| vs ORT"):
        table.add_column(col, justify="right" if col != "runtime" else "left")
    results = []
    runtimes = [r for r in RUNTIMES if not (args.skip_reference and r == "reference")]
    for model in args.models:
        path, inputs = MODELS[model]()
        feeds = feeds_for(path, inputs)
        measured: dict[str, tuple[float, list[np.ndarray]] | str] = {}
        for rt in runtimes:
            runs = args.runs if rt != "reference" else max(2, args.runs // 5)
            try:
                measured[rt] = time_runner(make_runner(rt, path), feeds, runs)
            except Exception as e:  # a peer failing on a model is a result, not a crash
                measured[rt] = f"{type(e).__name__}: {str(e)[:60]}"
        ort_t, ort_out = measured["onnxruntime"]  # type: ignore[misc]
        for rt in runtimes:
            m = measured[rt]
            if isinstance(m, str):
                results.append({"model": model, "runtime": rt, "error": m})
                table.add_row(model, rt, "failed", "-", "-", m)
                continue
            t, out = m
            diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - b))) for a, b in zip(out, ort_out))
            mem = peak_memory(model, rt)
            results.append({"model": model, "runtime": rt, "median_ms": t * 1e3, "ratio": t / ort_t,
                            "peak_mib": mem, "max_abs_diff": diff})
            table.add_row(model, rt, f"{t * 1e3:.1f}", f"{t / ort_t:.2f}", f"{mem:.0f}", f"{diff:.1e}")
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3])
    else:
        main()
