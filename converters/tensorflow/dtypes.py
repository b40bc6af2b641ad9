"""TensorFlow dtypes as IR dtypes: shared by the capture (input signatures) and the
translation context (attributes and output types)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError


def to_dtype(dt: Any) -> DType:
    """A TF dtype (DType, enum code or numpy type) as an IR DType."""
    tdt = tf.as_dtype(dt)
    if tdt == tf.string:
        return DType.STRING
    if tdt == tf.bfloat16:
        return DType.BFLOAT16
    try:
        return DType.from_numpy(tdt.as_numpy_dtype)
    except (TypeError, ValueError, KeyError):  # KeyError: variant and resource have no numpy type
        raise UnsupportedOpError("tensorflow", f"dtype {tdt.name}",
                                 hint="this dtype has no ONNX equivalent (resources and variants "
                                      "must be frozen or removed before conversion)") from None
