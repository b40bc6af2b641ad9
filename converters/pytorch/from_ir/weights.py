"""Where each IR weight lives in the emitted module: its source name (state_dict key or
Keras weight path) becomes a module path, so ``encoder.layer.0.attention.query.weight``
and ``conv2d/kernel`` come back as nested submodules holding real parameters."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import torch

from tensorbridge.converters.pytorch.from_ir.dtypes import to_torch
from tensorbridge.ir.node import Value

# the emitted module's own roots: constants (and, in a saved model.py, lifted tensors)
CONSTANT_ROOTS = ("constants", "lifted")
# names a submodule or tensor cannot take: nn.Module's attributes (``training`` is set per instance)
_RESERVED = frozenset(dir(torch.nn.Module)) | set(vars(torch.nn.Module())) | set(CONSTANT_ROOTS)


def _segments(name: str) -> list[str]:
    name = re.sub(r":\d+$", "", name)  # TF's output index suffix
    parts = [re.sub(r"\W", "_", p) or "_" for p in re.split(r"[./]", name) if p]
    parts = [p + "_" if p in _RESERVED else p for p in parts] or ["_"]
    return parts


def module_path(source_name: str) -> str:
    """The module path a source weight name becomes: a TF ``:0`` suffix dropped, split at
    ``.`` and ``/``, other non-word characters as ``_``, and a segment that names an
    ``nn.Module`` attribute (``training``, ``forward``...) or the emitted module's
    ``constants``/``lifted`` roots suffixed with ``_``. Names that
    then collide get further ``_`` suffixes in the order the weights are registered."""
    return ".".join(_segments(source_name))


class WeightTable:
    """Assigns every initializer of a graph (and its subgraphs) a unique module path and
    registers it on ``root`` as a parameter or buffer; a tied weight's other names are
    registered as the very same object (``named_parameters(remove_duplicate=False)`` lists
    them all, as in the source)."""

    def __init__(self, root: torch.nn.Module) -> None:
        self.root = root
        self.paths: dict[int, str] = {}  # id(Value) -> dotted path
        self.aliases: dict[str, str] = {}  # path of a tied weight's other name -> its path
        self._leaves: set[str] = set()
        self._prefixes: set[str] = set()
        self.frozen: list[str] = []  # trainable in the source, but not a float: frozen here

    def add(self, value: Value, *, kind: str, names: Sequence[str] = (), persistent: bool = True) -> str:
        """Register ``value`` once and return its path. ``kind`` (see
        ``converters.emitting.weight_kind``): "parameter", "frozen" (a parameter with
        ``requires_grad=False``), "buffer", or "constant" (a buffer under ``constants.``).
        ``names``: the weight's source names, the first one its own (default: the value's)."""
        if id(value) in self.paths:
            return self.paths[id(value)]
        names = list(names) or [value.source_name or value.name]
        path = self._unique(["constants", *_segments(value.name)] if kind == "constant" else _segments(names[0]))
        tensor = to_torch(value.const_array())
        held: torch.Tensor = tensor
        if kind == "parameter" and not tensor.is_floating_point() and not tensor.is_complex():
            self.frozen.append(path)  # only float tensors take gradients: it stays frozen
            kind = "frozen"
        if kind in ("parameter", "frozen"):
            held = torch.nn.Parameter(tensor, requires_grad=kind == "parameter")
        self._register(path, held, persistent)
        for alias in names[1:] if kind != "constant" else ():
            other = self._unique(_segments(alias))
            self._register(other, held, persistent)
            self.aliases[other] = path
        self.paths[id(value)] = path
        return path

    def _register(self, path: str, tensor: torch.Tensor, persistent: bool) -> None:
        parent = self._module_for(path.split(".")[:-1])
        leaf = path.rsplit(".", 1)[-1]
        if isinstance(tensor, torch.nn.Parameter):
            parent.register_parameter(leaf, tensor)
        else:
            parent.register_buffer(leaf, tensor, persistent=persistent)

    def _unique(self, segs: list[str]) -> str:
        path = ".".join(segs)
        while path in self._leaves or path in self._prefixes or any(
                ".".join(segs[:i]) in self._leaves for i in range(1, len(segs))):
            segs[-1] += "_"
            path = ".".join(segs)
        self._leaves.add(path)
        self._prefixes.update(".".join(segs[:i]) for i in range(1, len(segs)))
        return path

    def _module_for(self, segs: list[str]) -> torch.nn.Module:
        mod = self.root
        for s in segs:
            child = mod._modules.get(s)
            if child is None:
                child = torch.nn.Module()
                mod.add_module(s, child)
            mod = child
        return mod

    def warn_frozen(self) -> None:
        if self.frozen:
            warnings.warn(
                f"{len(self.frozen)} weight(s) trainable in the source are not floating point and "
                f"stay frozen parameters (requires_grad=False) in PyTorch: {', '.join(self.frozen[:10])}"
                + (" ..." if len(self.frozen) > 10 else ""), stacklevel=3)
