"""The whitelisted grammars for the strings torch evaluates while loading a ``.pt2``:
symbolic shape expressions (``expr_str``, range-constraint keys: what the deserializer hands
to ``sympy.sympify``) and shape guards (``guards_code``: pasted into Python source that
``ep.module()`` executes). A tokenizer and a recursive-descent parser that only accept or
refuse; nothing is ever evaluated."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import NamedTuple

_MAX_EXPR_CHARS = 20_000
_MAX_DEPTH = 40  # sympify goes through Python's parser (~200 nested parens) and recursion
_MAX_INT_DIGITS = 20
_MAX_EXPONENT = 64
SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-]*")  # dict keys / strings pasted between quotes


class GrammarError(ValueError):
    """Text outside the whitelisted expression grammar."""


_TOKEN = re.compile(r"""
    (?P<ws>\ +)
  | (?P<float>\d+\.\d*(?:e[+-]?\d{1,4})?|\d+e[+-]?\d{1,4})
  | (?P<int>\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'[A-Za-z0-9_.+\-]*')
  | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],.=&|~])
""", re.VERBOSE)
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}

# sympy classes that srepr/str emit for torch's shape expressions, and the functions of
# torch.utils._sympy.functions the deserializer puts in scope -> (min, max) arguments
_SYMPY_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(("Add", "Mul", "Max", "Min", "And", "Or", "IsNonOverlappingAndDenseIndicator"), (1, None)),
    **dict.fromkeys(("Pow", "Mod", "PythonMod", "FloorDiv", "CleanDiv", "CeilDiv", "IntTrueDiv", "FloatTrueDiv",
                     "FloatPow", "PowByNatural", "LShift", "RShift", "RoundDecimal", "Eq", "Ne", "Lt", "Le",
                     "Gt", "Ge", "Equality", "Unequality", "StrictLessThan", "StrictGreaterThan", "LessThan",
                     "GreaterThan"), (2, 2)),
    **dict.fromkeys(("Abs", "Not", "floor", "ceiling", "CeilToInt", "FloorToInt", "TruncToInt", "TruncToFloat",
                     "RoundToInt", "ToFloat", "Identity"), (1, 1)),
    **dict.fromkeys(("ModularIndexing", "Where"), (3, 3)),
}
_POWERS = {"Pow", "PowByNatural", "FloatPow", "LShift", "RShift"}  # second argument is an exponent
_SYMPY_CONSTANTS = {"True", "False", "true", "false", "oo"}
_SYMBOL = re.compile(r"(?:s|u|zf|zuf)\d{1,9}")  # torch's size / unbacked / float symbols
_ASSUMPTIONS = {"positive", "negative", "nonnegative", "nonpositive", "integer", "real", "finite", "zero",
                "nonzero", "even", "odd", "rational", "commutative"}
_FLOAT_TEXT = re.compile(r"[-+]?\d+(?:\.\d*)?(?:e[+-]?\d{1,4})?")

# what torch's PythonPrinter writes into guards_code -> (min, max) arguments
_GUARD_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(("abs", "float", "int", "math.floor", "math.ceil", "math.trunc", "math.sqrt", "math.isnan",
                     "math.isinf", "math.log2", "math.exp", "math.log", "math.cos", "math.sin", "math.tan",
                     "math.cosh", "math.sinh", "math.tanh", "math.acos", "math.asin", "math.atan",
                     "torch.sym_float", "torch.sym_int", "torch.sym_not", "torch._sym_sqrt"), (1, 1)),
    "round": (1, 2), "max": (1, None), "min": (1, None), "torch.sym_max": (2, 2), "torch.sym_min": (2, 2),
    "torch.sym_ite": (3, 3),
}
_GUARD_CONSTANTS = {"True", "False", "math.inf", "math.nan", "math.pi", "math.e", "inf"}
_TENSOR_METHODS = {"size", "stride", "storage_offset", "dim", "numel"}


# what a parsed sub-expression is (literal / holds a symbol / computed) and its degree: how
# often the literals under it get multiplied by powers. sympy folds numbers eagerly, so
# ``Pow(Pow(Integer(10**19), 64), 64)`` would build a 77,000-digit integer: powers may
# nest only while the product of their literal exponents stays within _MAX_EXPONENT.
_LIT, _SYM, _EXPR, _STR = "literal", "symbol", "expression", "string"


class _Sub(NamedTuple):
    kind: str
    degree: int = 1


def _joined(*subs: _Sub) -> _Sub:
    return _Sub(_EXPR, max(s.degree for s in subs))


def _arith(*subs: _Sub) -> _Sub:
    """Strings (guards compare string inputs) may only be compared: ``'a' * 10**9``."""
    if any(s.kind == _STR for s in subs):
        raise GrammarError("arithmetic on a string")
    return _joined(*subs)


def parse_sym_expr(text: str) -> None:
    """Accept a symbolic shape expression in sympy's ``srepr`` form (what torch.export
    writes: ``Mul(Integer(2), Symbol('s0', positive=True, integer=True))``) or its ``str``
    form (``2*s0``: range-constraint keys, older torch). Raise :class:`GrammarError`
    otherwise. Nothing is evaluated."""
    _Parser(text, guard=False).parse()


def parse_guard(text: str) -> None:
    """Accept a guard as torch's PythonPrinter writes it (``L['x'].size()[0] >= 2 and ...``):
    arithmetic, comparisons, and/or/not, a few math functions, and sizes of the inputs."""
    _Parser(text, guard=True).parse()


class _Parser:
    """Recursive descent over one token list; the two dialects share the arithmetic."""

    def __init__(self, text: str, *, guard: bool) -> None:
        if len(text) > _MAX_EXPR_CHARS:
            raise GrammarError(f"longer than {_MAX_EXPR_CHARS} characters")
        self.guard = guard
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    # -------------------------------------------------------- helpers
    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def at(self, *texts: str) -> bool:
        kind, text = self.peek()
        return kind in ("op", "name") and text in texts

    def take(self, text: str | None = None, kind: str | None = None) -> str:
        tk, tt = self.peek()
        if tk == "end" or (text is not None and tt != text) or (kind is not None and tk != kind):
            raise GrammarError(f"expected {text or kind or 'more'!r}, found {tt or 'end of text'!r}")
        self.i += 1
        return tt

    def parse(self) -> None:
        try:
            self.expr()
        except RecursionError as e:
            raise GrammarError("nested too deeply") from e
        if self.peek()[0] != "end":
            raise GrammarError(f"unexpected {self.peek()[1]!r}")

    def expr(self) -> _Sub:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise GrammarError(f"nested deeper than {_MAX_DEPTH}")
        try:
            return self.ternary() if self.guard else self.binary(("|", "&"), self.compare)
        finally:
            self.depth -= 1

    def binary(self, ops: tuple[str, ...], operand: Callable[[], _Sub]) -> _Sub:
        """``operand (op operand)*`` with ``ops`` from loosest to tightest binding."""
        inner = (lambda: self.binary(ops[1:], operand)) if len(ops) > 1 else operand
        sub = inner()
        while self.at(ops[0]):
            self.take()
            sub = _joined(sub, inner())
        return sub

    # -------------------------------------------------------- arithmetic (both dialects)
    def compare(self) -> _Sub:
        sub = self.arith()
        n = 0
        while self.at("==", "!=", "<", "<=", ">", ">="):
            self.take()
            sub, n = _joined(sub, self.arith()), n + 1
            if n > 1 and not self.guard:
                raise GrammarError("chained comparison")
        return sub

    def arith(self) -> _Sub:
        sub = self.term()
        while self.at("+", "-"):
            self.take()
            sub = _arith(sub, self.term())
        return sub

    def term(self) -> _Sub:
        sub = self.unary()
        while self.at("*", "/", "//", "%"):
            self.take()
            sub = _arith(sub, self.unary())
        return sub

    def unary(self) -> _Sub:
        if self.at("-", "+") or (not self.guard and self.at("~")):
            self.take()
            sub = self.unary()
            return sub if sub.kind == _LIT else _arith(sub)
        base = self.atom()
        if not self.at("**"):
            return base
        self.take()
        start = self.i
        return self.raised(base, self.unary(), start)

    def raised(self, base: _Sub, exponent: _Sub, start: int) -> _Sub:
        """``base ** exponent``: the exponent is a symbol or a literal of at most
        _MAX_EXPONENT, and nested powers multiply their degrees."""
        _arith(base, exponent)
        if exponent.kind == _SYM:
            return _joined(base)
        if exponent.kind != _LIT:
            raise GrammarError("an exponent must be a literal or a symbol")
        worst = max([1.0] + [abs(float(t.strip("'"))) for k, t in self.toks[start:self.i]
                             if k in ("int", "float", "str")])
        if worst > _MAX_EXPONENT or base.degree * math.ceil(worst) > _MAX_EXPONENT:
            raise GrammarError(f"powers raise literals beyond the {_MAX_EXPONENT}th power")
        return _Sub(_EXPR, base.degree * math.ceil(worst))

    def atom(self) -> _Sub:
        kind, text = self.peek()
        if kind == "int" and len(text) > _MAX_INT_DIGITS:
            raise GrammarError(f"integer literal longer than {_MAX_INT_DIGITS} digits")
        if kind in ("int", "float"):
            self.take()
            return _Sub(_LIT)
        if kind == "str" and self.guard:
            self.take()
            return _Sub(_STR)
        if text == "(":
            self.take()
            sub = self.expr()
            self.take(")")
            return sub
        if kind != "name":
            raise GrammarError(f"unexpected {text or 'end of text'!r}")
        return self.guard_name() if self.guard else self.sym_name()

    def call(self, name: str, arity: tuple[int, int | None]) -> _Sub:
        self.take("(")
        args: list[_Sub] = []
        while not self.at(")"):
            if args:
                self.take(",")
            start = self.i
            arg = self.expr()
            args.append(self.raised(args[0], arg, start) if len(args) == 1 and name in _POWERS else arg)
        self.take(")")
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            raise GrammarError(f"{name} takes {low} to {high or 'any number of'} arguments, got {len(args)}")
        return _arith(*args)

    # -------------------------------------------------------- sympy dialect
    def sym_name(self) -> _Sub:
        name = self.take(kind="name")
        if not self.at("("):
            if _SYMBOL.fullmatch(name):
                return _Sub(_SYM)
            if name in _SYMPY_CONSTANTS:
                return _Sub(_LIT)
            raise GrammarError(f"unknown name {name!r}")
        if name == "Symbol":
            return self.sym_symbol()
        if name in ("Integer", "Rational"):
            return self.sym_number(name)
        if name == "Float":
            return self.sym_float()
        if name not in _SYMPY_FUNCTIONS:
            raise GrammarError(f"{name!r} is not an allowed function")
        return self.call(name, _SYMPY_FUNCTIONS[name])

    def sym_symbol(self) -> _Sub:
        """``Symbol('s0', positive=True, integer=True)``"""
        self.take("(")
        quoted = self.take(kind="str")
        if not _SYMBOL.fullmatch(quoted[1:-1]):
            raise GrammarError(f"symbol name {quoted} is not a torch shape symbol")
        while self.at(","):
            self.take()
            if self.take(kind="name") not in _ASSUMPTIONS:
                raise GrammarError(f"unknown symbol assumption {self.toks[self.i - 1][1]!r}")
            self.take("=")
            if self.take(kind="name") not in ("True", "False"):
                raise GrammarError("symbol assumptions are True or False")
        self.take(")")
        return _Sub(_SYM)

    def sym_number(self, name: str) -> _Sub:
        """``Integer(-2)``, ``Rational(1, 2)``"""
        self.take("(")
        for i in range(1 if name == "Integer" else 2):
            if i:
                self.take(",")
            if self.at("-"):
                self.take()
            if self.peek()[0] != "int":
                raise GrammarError(f"{name} takes integer literals")
            self.atom()
        self.take(")")
        return _Sub(_LIT)

    def sym_float(self) -> _Sub:
        """``Float('0.5', precision=53)``"""
        self.take("(")
        quoted = self.take(kind="str")
        if not _FLOAT_TEXT.fullmatch(quoted[1:-1]):
            raise GrammarError(f"Float({quoted}) is not a decimal number")
        if self.at(","):
            self.take()
            self.take("precision")
            self.take("=")
            self.take(kind="int")
        self.take(")")
        return _Sub(_LIT)

    # -------------------------------------------------------- guard dialect
    def ternary(self) -> _Sub:
        sub = self.binary(("or", "and"), self.negation)
        if not self.at("if"):
            return sub
        self.take()
        cond = self.binary(("or", "and"), self.negation)
        self.take("else")
        return _joined(sub, cond, self.expr())

    def negation(self) -> _Sub:
        if self.at("not"):
            self.take()
            return _joined(self.negation())
        return self.compare()

    def guard_name(self) -> _Sub:
        name = self.take(kind="name")
        if name == "L":
            return self.input_ref()
        if name in ("math", "torch") and self.at("."):
            self.take()
            name += "." + self.take(kind="name")
        if self.at("(") and name in _GUARD_FUNCTIONS:
            return self.call(name, _GUARD_FUNCTIONS[name])
        if name in _GUARD_CONSTANTS:
            return _Sub(_LIT)
        raise GrammarError(f"unknown name {name!r}")

    def input_ref(self) -> _Sub:
        """``L['x']``, then keys, indices and public attributes, optionally ending in a size
        query such as ``.size()[0]``, ``.stride()[1]`` or ``.storage_offset()``."""
        if not self.at("["):
            raise GrammarError("L must be indexed by an input name")
        while self.at("[", "."):
            if self.take() == "[":
                kind, text = self.peek()
                if not ((kind == "str" and SAFE_KEY.fullmatch(text[1:-1])) or kind == "int"):
                    raise GrammarError(f"input key {text!r} is not a plain name or index")
                self.take()
                self.take("]")
                continue
            attr = self.take(kind="name")
            if attr.startswith("_"):
                raise GrammarError(f"attribute {attr!r} is private")
            if self.at("("):
                if attr not in _TENSOR_METHODS:
                    raise GrammarError(f"method {attr!r} is not a tensor size query")
                self.take("(")
                if self.peek()[0] == "int":
                    self.take()
                self.take(")")
                if self.at("["):
                    self.take()
                    self.take(kind="int")
                    self.take("]")
                break
        return _Sub(_SYM)


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise GrammarError(f"unexpected character {text[pos]!r} at {pos}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group()))
        pos = m.end()
    return out
