"""Layout helpers the TensorFlow emitters share: moving the channel axis (TensorFlow's CPU
conv/pool kernels are channels-last only) and padding or cropping a run of axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf


def to_channels_last(x: Any, rank: int) -> Any:
    """NC[spatial] -> N[spatial]C."""
    return tf.transpose(x, [0, *range(2, rank), 1])


def to_channels_first(x: Any, rank: int) -> Any:
    """N[spatial]C -> NC[spatial]."""
    return tf.transpose(x, [0, rank - 1, *range(1, rank - 1)])


def pad_axes(x: Any, first: int, begin: Sequence[int], end: Sequence[int],
             value: Any = 0) -> Any:
    """Pad (positive) or crop (negative) the axes first, first+1, ... of ``x``."""
    if not any(begin) and not any(end):
        return x
    lead = (slice(None),) * first
    crop = tuple(slice(max(-b, 0), e if e < 0 else None) for b, e in zip(begin, end))
    if any(b < 0 for b in begin) or any(e < 0 for e in end):
        x = x[(*lead, *crop)]
    if any(b > 0 for b in begin) or any(e > 0 for e in end):
        rank = x.shape.rank
        rest = rank - first - len(begin)
        paddings = [[0, 0]] * first + [[max(b, 0), max(e, 0)] for b, e in zip(begin, end)]
        x = tf.pad(x, paddings + [[0, 0]] * rest, constant_values=tf.cast(value, x.dtype))
    return x
