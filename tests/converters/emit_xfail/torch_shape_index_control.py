"""Conformance cases the torch emitters of this family cannot pass, with the reason."""

EXPECTED: dict[str, str] = {}
