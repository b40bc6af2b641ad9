"""Tensor generator rules written once: which of Constant's value attributes is set and the
array it stands for. The runtime kernel and both emitters turn that array into their own
tensor type; Range and EyeLike are computed with each framework's own ops."""

from __future__ import annotations

from typing import Any

import numpy as np

# Constant's value_* attributes and the array dtype each holds (value_string(s): object)
_SCALAR_DTYPES = {"value_float": np.float32, "value_floats": np.float32,
                  "value_int": np.int64, "value_ints": np.int64,
                  "value_string": object, "value_strings": object}


def constant_value(value: np.ndarray | None, sparse_value: Any = None,
                   **scalars: Any) -> np.ndarray:
    """The array a Constant node holds: exactly one of ``value`` (a tensor), ``sparse_value``
    (densified) and the value_* attributes (``scalars``, None when absent) must be set."""
    given = {k: v for k, v in scalars.items() if v is not None}
    if value is not None:
        given["value"] = value
    if sparse_value is not None:
        given["sparse_value"] = sparse_value
    if len(given) != 1:
        raise ValueError(f"Constant needs exactly one value attribute, got {sorted(given)}")
    (name, v), = given.items()
    if name == "value":
        return np.asarray(v)
    if name == "sparse_value":
        return np.asarray(v.to_dense())
    return np.array(v, dtype=_SCALAR_DTYPES[name])
