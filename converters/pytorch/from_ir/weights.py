"""Where each IR weight lives in the emitted module: its source name (state_dict key or
Keras weight path) becomes a module path, so ``encoder.layer.0.attention.query.weight``
and ``conv2d/kernel`` come back as nested submodules holding real parameters."""

from __future__ import annotations

import re
import warnings

import torch

from converters.pytorch.from_ir.dtypes import to_torch
from ir.node import Value

_RESERVED = frozenset(dir(torch.nn.Module)) | {"constants"}


def _segments(name: str) -> list[str]:
    name = re.sub(r":\d+$", "", name)  # TF's output index suffix
    parts = [re.sub(r"\W", "_", p) or "_" for p in re.split(r"[./]", name) if p]
    parts = [p + "_" if p in _RESERVED else p for p in parts] or ["_"]
    return parts


class WeightTable:
    """Assigns every initializer of a graph (and its subgraphs) a unique module path and
    registers it on ``root`` as a parameter or buffer."""

    def __init__(self, root: torch.nn.Module) -> None:
        self.root = root
        self.paths: dict[int, str] = {}  # id(Value) -> dotted path
        self._leaves: set[str] = set()
        self._prefixes: set[str] = set()
        self.frozen: list[str] = []  # trainable in the source, but not a float in torch

    def add(self, value: Value, *, trainable: bool, constant: bool) -> str:
        if id(value) in self.paths:
            return self.paths[id(value)]
        segs = ["constants", *_segments(value.name)] if constant else _segments(value.source_name or value.name)
        path = self._unique(segs)
        tensor = to_torch(value.const_array())
        parent = self._module_for(path.split(".")[:-1])
        leaf = path.rsplit(".", 1)[-1]
        if trainable and tensor.is_floating_point():
            parent.register_parameter(leaf, torch.nn.Parameter(tensor))
        else:
            if trainable:
                self.frozen.append(path)
            parent.register_buffer(leaf, tensor)
        self.paths[id(value)] = path
        return path

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
                f"stay constant buffers in PyTorch: {', '.join(self.frozen[:10])}"
                + (" ..." if len(self.frozen) > 10 else ""), stacklevel=3)
