"""onnx's nine light Model Zoo CNNs (``onnx/backend/test/data/light``) as benchmark models.

The files hold the architectures of the Model Zoo classics with every weight built in the
graph by ``ConstantOfShape`` (a constant fill, 0.02 or so) from a stored shape initializer.
Two variants of each, cached in out/bench:

- ``zoo_<name>`` ("stored weights"): the graph as shipped, weights built by ConstantOfShape;
- ``zoo_<name>_random``: each ConstantOfShape weight replaced by a seeded random initializer
  of its shape (convolution/Gemm weights scaled by 1/sqrt(fan-in), 1-D parameters such as
  BatchNorm's scale and variance drawn in [0.5, 1.5]), so activations keep a usable range.

The files are IR version 3 (initializers also listed as graph inputs); both variants are
written at IR version 4 with only the real inputs as graph inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.models import CACHE

NAMES = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
         "squeezenet", "vgg19", "zfnet512")


def light_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _without_initializer_inputs(model) -> None:
    """IR 3 -> 4: graph inputs that are initializers are constants, not inputs."""
    inits = {t.name for t in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    model.ir_version = max(model.ir_version, 4)


def _random_weights(model, seed: int) -> None:
    """Replace each ConstantOfShape whose shape is an initializer by a random initializer."""
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    kept, used = [], set()
    for node in model.graph.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in shapes:
            kept.append(node)
            continue
        shape = tuple(int(d) for d in shapes[node.input[0]])
        used.add(node.input[0])
        model.graph.initializer.append(numpy_helper.from_array(_draw(rng, shape), node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    still = {n for node in kept for n in node.input}
    inits = [t for t in model.graph.initializer if t.name not in used or t.name in still]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)


def _draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) <= 1:
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def _prepare(name: str, random: bool) -> tuple[Path, list[np.ndarray]]:
    import onnx

    path = CACHE / f"zoo_{name}{'_random' if random else ''}.onnx"
    if not path.exists():
        model = onnx.load(str(light_dir() / f"light_{name}.onnx"))
        _without_initializer_inputs(model)
        if random:
            _random_weights(model, seed=0)
        onnx.checker.check_model(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(model.SerializeToString())
    return path, _inputs(path)


def _inputs(path: Path) -> list[np.ndarray]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    rng = np.random.default_rng(0)
    out = []
    for i in graph.input:
        dims = [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]
        out.append(rng.standard_normal(dims).astype(np.float32))
    return out


def zoo_models() -> dict[str, Callable[[], tuple[Path, list[np.ndarray]]]]:
    """``zoo_<name>`` (stored weights) and ``zoo_<name>_random`` factories."""
    models: dict[str, Callable[[], tuple[Path, list[np.ndarray]]]] = {}
    for name in NAMES:
        short = name.removeprefix("bvlc_")
        models[f"zoo_{short}_random"] = lambda n=name: _prepare(n, True)
        models[f"zoo_{short}"] = lambda n=name: _prepare(n, False)
    return models
