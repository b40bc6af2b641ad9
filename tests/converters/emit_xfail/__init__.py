"""Conformance cases an emitter cannot pass, per family: each entry states why (``reason``)
and how that shows (``raises``, and ``match``, a regular expression searched in the error's
message). A listed case that fails some other way is a regression, not an expected failure:
:func:`explains` tells them apart."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The failure a value mismatch gives (np.testing.assert_allclose, after the dtype and shape
# checks of tests/conformance.py passed): the emitted model ran and computed other numbers.
VALUES_DIFFER = r"Not equal to tolerance rtol="


@dataclass(frozen=True)
class Xfail:
    """Why a case cannot pass, and the exception that failure raises."""

    reason: str
    raises: type[Exception] | tuple[type[Exception], ...]
    match: str

    def explains(self, error: BaseException) -> bool:
        """Whether ``error`` is the failure this entry predicts."""
        return isinstance(error, self.raises) and re.search(self.match, str(error)) is not None

    def expected(self) -> str:
        names = self.raises if isinstance(self.raises, tuple) else (self.raises,)
        return f"{' or '.join(t.__name__ for t in names)} matching {self.match!r}"
