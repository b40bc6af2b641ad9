"""String emitters: StringNormalizer (the runtime's kernels are in runtime/kernels/string.py).

PyTorch has no string tensors, so a string tensor is what the runtime uses: a numpy object
array of Python ``str``, passed through the module as it is (eager only: torch.export and
torch.fx cannot trace it). The word rules are ir/string_math.py's, shared with the runtime."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.string_math import check_normalizer_shape, normalize_words, normalized_shape

LAYER = "PyTorch emitter"


def _strings(X: Any, op_type: str) -> np.ndarray:
    """A string input as a numpy object array (a str list or array is accepted too)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "OUS" or isinstance(X, list | tuple | str):
        return np.asarray(X, dtype=object)
    raise UnsupportedOpError(LAYER, op_type, hint=f"got {type(X).__name__}; PyTorch has no string "
                             "tensors: pass string inputs as numpy arrays of str (dtype object)")


@emits("StringNormalizer", since=10)
def string_normalizer(X: Any, *, case_change_action: str = "NONE", is_case_sensitive: int = 0,
                      locale: str | None = None, stopwords: Sequence[str] | None = None) -> np.ndarray:
    """StringNormalizer-10(X [C] or [1, C] strings) -> Y: stopwords dropped, case changed.
    ``locale`` is accepted; Python's locale-independent str.lower/upper are used."""
    x = _strings(X, "StringNormalizer")
    check_normalizer_shape(x.shape)
    words = normalize_words([str(w) for w in x.reshape(-1).tolist()], case_change_action=case_change_action,
                            is_case_sensitive=is_case_sensitive, stopwords=stopwords)
    out = np.empty(len(words), dtype=object)
    out[:] = words
    return out.reshape(normalized_shape(x.ndim, len(words)))
