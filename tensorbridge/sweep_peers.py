"""The converters people use today, run by a sweep on the same models in the same process:
``torch.onnx.export`` (TorchScript exporter, opset 17), ``onnx2torch`` (ONNX back to
PyTorch, from torch.onnx's file) and ``tf2onnx.convert.from_keras`` (opset 17).

Each peer is a function ``(model, example_inputs, state) -> run`` returning a callable that
maps numpy inputs to outputs; the sweep compares those with the source's eager output at the
same tolerance as tensorbridge's results, so a peer's failure (it raises) and its silent
wrong answer (it returns, out of tolerance) are counted apart. ``state`` carries what one
peer hands the next (torch.onnx's ModelProto for onnx2torch)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir.errors import TensorbridgeError

PEER_OPSET = 17
Runner = Callable[[list[np.ndarray]], Sequence[Any]]


class PeerSkipped(TensorbridgeError):
    """The peer cannot be tried on this model (what it needs did not run)."""


@dataclass(frozen=True)
class Peer:
    name: str
    kind: str  # the source kind it applies to: "torch" or "keras"
    convert: Callable[[Any, tuple[Any, ...], dict[str, Any]], Runner]
    about: str


def _ort_runner(proto: Any) -> Runner:
    from tensorbridge.ort import ort_session

    sess = ort_session(proto)
    names = [i.name for i in sess.get_inputs()]
    return lambda feeds: sess.run(None, dict(zip(names, feeds)))


def torch_onnx(model: Any, example: tuple[Any, ...], state: dict[str, Any]) -> Runner:
    """torch.onnx.export(dynamo=False, opset 17), run on onnxruntime."""
    import warnings

    import onnx
    import torch  # noqa: TID251 - the peer is torch's own exporter

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, buf, dynamo=False, opset_version=PEER_OPSET)  # type: ignore[arg-type]
    proto = onnx.load_from_string(buf.getvalue())
    state["torch.onnx"] = proto
    return _ort_runner(proto)


def onnx2torch_peer(model: Any, example: tuple[Any, ...], state: dict[str, Any]) -> Runner:
    """onnx2torch.convert on torch.onnx's ModelProto, run in PyTorch."""
    proto = state.get("torch.onnx")
    if proto is None:
        raise PeerSkipped("onnx2torch converts torch.onnx's file, and torch.onnx failed")
    from tensorbridge.sweep_families import declare_torchvision_ops

    declare_torchvision_ops()  # onnx2torch imports torchvision
    import onnx2torch
    import torch  # noqa: TID251

    module = onnx2torch.convert(proto).eval()

    def run(feeds: list[np.ndarray]) -> list[Any]:
        from torch.utils._pytree import tree_leaves  # noqa: TID251

        with torch.no_grad():
            out = module(*[torch.from_numpy(np.ascontiguousarray(f)) for f in feeds])
        return [o for o in tree_leaves(out) if isinstance(o, torch.Tensor)]

    return run


def tf2onnx_peer(model: Any, example: tuple[Any, ...], state: dict[str, Any]) -> Runner:
    """tf2onnx.convert.from_keras(opset 17), run on onnxruntime."""
    import logging

    import tensorflow as tf  # noqa: TID251 - the peer converts Keras models
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    spec = [tf.TensorSpec((None, *np.shape(x)[1:]), tf.as_dtype(np.asarray(x).dtype)) for x in example]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=PEER_OPSET)
    return _ort_runner(proto)


PEERS: dict[str, Peer] = {
    p.name: p for p in (
        Peer("torch.onnx", "torch", torch_onnx, "torch.onnx.export(dynamo=False, opset_version=17) + onnxruntime"),
        Peer("onnx2torch", "torch", onnx2torch_peer, "onnx2torch.convert(torch.onnx's ModelProto) in PyTorch"),
        Peer("tf2onnx", "keras", tf2onnx_peer, "tf2onnx.convert.from_keras(opset=17) + onnxruntime"),
    )
}
