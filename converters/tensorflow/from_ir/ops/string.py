"""String emitters: StringNormalizer (the runtime's kernels are in runtime/kernels/string.py,
the word rules in ir/string_math.py). String tensors are ``tf.string`` (UTF-8 bytes); case
changes use TensorFlow's UTF-8 aware lower/upper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.string_math import CASE_ACTIONS

LAYER = "TensorFlow emitter"


def _drop_stopwords(words: Any, stopwords: Sequence[str], case_sensitive: bool) -> Any:
    stop = tf.constant(list(stopwords), tf.string)
    key = words
    if not case_sensitive:
        key, stop = tf.strings.lower(words, encoding="utf-8"), tf.strings.lower(stop, encoding="utf-8")
    hit = tf.reduce_any(tf.equal(key[:, None], stop[None, :]), axis=1)
    return tf.boolean_mask(words, tf.logical_not(hit))


@emits("StringNormalizer", since=10)
def string_normalizer(X: Any, *, case_change_action: str = "NONE", is_case_sensitive: int = 0,
                      locale: str | None = None, stopwords: Sequence[str] | None = None) -> Any:
    """StringNormalizer-10(X [C] or [1, C] strings) -> Y: stopwords dropped, case changed; an
    input left empty gives one empty string. ``locale`` is accepted, not used."""
    rank = X.shape.rank
    if rank not in (1, 2) or (rank == 2 and X.shape[0] not in (1, None)):
        raise UnsupportedOpError(LAYER, "StringNormalizer", hint=f"input must be [C] or [1, C], got {X.shape}")
    if case_change_action not in CASE_ACTIONS:
        raise UnsupportedOpError(LAYER, "StringNormalizer", hint=f"unknown case_change_action "
                                 f"{case_change_action!r} (one of {', '.join(CASE_ACTIONS)})")
    words = tf.reshape(X, [-1])
    if stopwords:
        words = _drop_stopwords(words, stopwords, bool(is_case_sensitive))
    if case_change_action == "LOWER":
        words = tf.strings.lower(words, encoding="utf-8")
    elif case_change_action == "UPPER":
        words = tf.strings.upper(words, encoding="utf-8")
    words = tf.concat([words, tf.constant([""])], 0)[:tf.maximum(tf.size(words), 1)]  # never empty
    return words if rank == 1 else tf.reshape(words, [1, -1])
