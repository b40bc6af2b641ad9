"""StringNormalizer's word rules, written once over Python strings: used by the runtime's
kernel and the PyTorch emitter (whose string tensors are numpy object arrays too); the
TensorFlow emitter spells the same rules with ``tf.strings``."""

from __future__ import annotations

from collections.abc import Sequence

CASE_ACTIONS = ("NONE", "LOWER", "UPPER")


def normalize_words(words: Sequence[str], *, case_change_action: str = "NONE",
                    is_case_sensitive: int = 0, stopwords: Sequence[str] | None = None) -> list[str]:
    """Drop the stopwords (compared lower-cased unless ``is_case_sensitive``), then change
    the case; an input left empty becomes one empty string, as the spec keeps a [1] tensor."""
    if case_change_action not in CASE_ACTIONS:
        raise ValueError(f"StringNormalizer: unknown case_change_action {case_change_action!r} "
                         f"(one of {', '.join(CASE_ACTIONS)})")
    out = list(words)
    if stopwords:
        if is_case_sensitive:
            stop = set(stopwords)
            out = [w for w in out if w not in stop]
        else:
            lowered = {s.lower() for s in stopwords}
            out = [w for w in out if w.lower() not in lowered]
    if case_change_action == "LOWER":
        out = [w.lower() for w in out]
    elif case_change_action == "UPPER":
        out = [w.upper() for w in out]
    return out or [""]


def normalized_shape(rank: int, n: int) -> tuple[int, ...]:
    """The output shape for ``n`` words from a [C] (rank 1) or [1, C] (rank 2) input."""
    return (n,) if rank == 1 else (1, n)


def check_normalizer_shape(shape: Sequence[int | None]) -> None:
    """StringNormalizer takes [C] or [1, C]."""
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] not in (1, None)):
        raise ValueError(f"StringNormalizer: input must be [C] or [1, C], got {list(shape)}")
