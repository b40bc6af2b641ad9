"""Conformance cases the torch emitters of this family cannot pass, with the reason."""

from tests.converters.emit_xfail import Xfail

EXPECTED: dict[str, Xfail] = {}
