"""IR dtypes -> TensorFlow dtypes."""

from __future__ import annotations

import tensorflow as tf

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

_SPECIAL = {DType.STRING: tf.string, DType.BFLOAT16: tf.bfloat16, DType.BOOL: tf.bool}


def tf_dtype(dtype: DType | int) -> tf.DType:
    d = DType(dtype)
    if d in _SPECIAL:
        return _SPECIAL[d]
    try:
        return tf.as_dtype(d.np_dtype)
    except (TypeError, ValueError):
        raise UnsupportedOpError("TensorFlow emitter", f"dtype {d.name}",
                                 hint="TensorFlow has no tensor type for it") from None
