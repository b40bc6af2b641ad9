"""Shared checks for migration tests: convert a source to PyTorch / TensorFlow with
``tb.convert``, compare the emitted model with the *source framework's* outputs, count
trainable parameters against the source's, and take one SGD step on the emitted model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorbridge as tb
from tensorbridge.migrate import run_emitted


def assert_emittable(graph: Any) -> None:
    """Every op of ``graph`` (and its subgraphs) has a PyTorch and a TensorFlow emitter."""
    from tensorbridge.converters.pytorch.from_ir.module import EMITTERS as TORCH
    from tensorbridge.converters.tensorflow.from_ir.module import EMITTERS as TF

    missing = sorted({f"{reg.layer}: {n.domain + '::' if n.domain else ''}{n.op_type}"
                      for n in _all_nodes(graph) for reg in (TORCH, TF) if (n.domain, n.op_type) not in reg})
    assert not missing, f"ops without an emitter: {missing}"


def _all_nodes(graph: Any) -> list[Any]:
    out = []
    for node in graph.nodes():
        out.append(node)
        for sub in node.subgraphs():
            out += _all_nodes(sub)
    return out


def assert_close(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], rtol: float, atol: float,
                 who: str) -> None:
    assert len(got) == len(expected), f"{who}: {len(got)} outputs, the source has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape, f"{who} output {i}: shape {g.shape} != source {e.shape}"
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e, err_msg=f"{who} output {i}")
        else:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                                       err_msg=f"{who} output {i}")


def trainable_count(module: Any) -> int:
    """Trainable parameters of a torch module, Keras model or tf.Module."""
    if hasattr(module, "named_parameters"):
        return sum(p.numel() for p in module.parameters() if p.requires_grad)
    if hasattr(module, "trainable_weights"):  # Keras
        return int(sum(np.prod(w.shape) for w in module.trainable_weights))
    return int(sum(v.shape.num_elements() for v in module.trainable_variables))


def train_step(module: Any, feeds: Sequence[np.ndarray], to: str) -> int:
    """One SGD step on the mean squared distance of the float outputs from 1 (not from 0: a
    softmax head's near-uniform output would give vanishing gradients); returns how many
    weights changed."""
    if to == "torch":
        import torch

        params = [p for p in module.parameters() if p.requires_grad]
        before = [p.detach().clone() for p in params]
        out = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in feeds])
        outs = out if isinstance(out, tuple) else (out,)
        loss = sum(((o.float() - 1) ** 2).mean() for o in outs if o.is_floating_point())
        loss.backward()
        torch.optim.SGD(params, lr=0.1).step()
        return sum(not torch.equal(b, p.detach()) for b, p in zip(before, params, strict=True))
    import tensorflow as tf

    variables = list(module.trainable_variables)
    before = [v.numpy().copy() for v in variables]
    with tf.GradientTape() as tape:
        out = module(*[tf.constant(x) for x in feeds])
        outs = out if isinstance(out, tuple) else (out,)
        loss = tf.add_n([tf.reduce_mean((tf.cast(o, tf.float32) - 1) ** 2) for o in outs if o.dtype.is_floating])
    grads = tape.gradient(loss, variables)
    unused = {module.weights[k].name for k in module.unused_weights}
    missing = [v.name for v, g in zip(variables, grads, strict=True) if g is None and v.name not in unused]
    assert not missing, f"no gradient reaches {missing[:5]}"
    tf.keras.optimizers.SGD(0.1).apply_gradients([(g, v) for g, v in zip(grads, variables, strict=True)
                                                  if g is not None])
    return sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables, strict=True))


def check_migration(source: Any, example_inputs: Any, feeds: Sequence[np.ndarray],
                    expected: Sequence[np.ndarray], to: str, *, trainable: int | None,
                    rtol: float = 1e-4, atol: float = 1e-5,
                    other: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
                    train: bool = True, dynamic_shapes: Any = None) -> Any:
    """``tb.convert(source, example_inputs, to=to)`` matches ``expected`` on ``feeds`` (and
    ``other`` = (feeds, expected), e.g. another batch size), has ``trainable`` parameters,
    and trains."""
    module = tb.convert(source, example_inputs, to=to, dynamic_shapes=dynamic_shapes)
    assert_close(run_emitted(module, list(feeds)), expected, rtol, atol, f"emitted {to}")
    if other is not None:
        assert_close(run_emitted(module, list(other[0])), other[1], rtol, atol, f"emitted {to} (2nd inputs)")
    if trainable is not None:
        assert trainable_count(module) == trainable
    if train and trainable:
        assert train_step(module, feeds, to) > 0
    return module
