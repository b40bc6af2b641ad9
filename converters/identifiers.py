"""Python identifiers for IR value names: the parameter names of an emitted module's
``forward`` / ``__call__`` (PyTorch and TensorFlow name a graph's inputs the same way)."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable


def identifiers(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """A distinct identifier for each name, in order: characters other than ASCII letters,
    digits and ``_`` become ``_``; a name that is then not an identifier (it starts with a
    digit) or is a keyword gets ``input_`` in front; ``self``, repeats and ``taken`` get a
    trailing ``_``."""
    used = set(taken) | {"self"}
    out: list[str] = []
    for name in names:
        ident = re.sub(r"\W", "_", name, flags=re.ASCII)
        ident = ident if ident.isidentifier() and not keyword.iskeyword(ident) else f"input_{ident}"
        while ident in used:
            ident += "_"
        used.add(ident)
        out.append(ident)
    return out
