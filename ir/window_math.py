"""The ONNX sliding-window geometry (Conv*, *Pool, Col2Im, DeformConv) written once.

Pure functions over Python ints: per spatial axis, the defaults of ``kernel_shape`` /
``strides`` / ``dilations`` / ``pads``, the ``auto_pad`` modes, the output length (floor,
or ``ceil_mode``), and the end padding an unpadded floor-mode kernel needs to produce
exactly that length. The runtime kernels and both emitters build their windows from
these results; only what a framework cannot know statically (a symbolic spatial size)
stays in the emitters.

The rules, as onnxruntime, PyTorch and TensorFlow implement them:

- ``SAME_UPPER`` / ``SAME_LOWER`` give ``out = ceil(in / stride)`` whatever ``ceil_mode``
  says; the total padding is split evenly, the odd cell at the end (UPPER) or at the
  beginning (LOWER).
- ``VALID`` pads nothing; ``NOTSET`` uses ``pads`` (begins then ends, zeros by default).
- Explicit pads give ``out = floor((in + pads - extent) / stride) + 1``, or ``ceil`` with
  ``ceil_mode``, where a ceil-mode window that would start inside the end padding is
  dropped (PyTorch's rule, which onnxruntime follows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
SAME_PADS = ("SAME_UPPER", "SAME_LOWER")


@dataclass(frozen=True)
class WindowAttrs:
    """A window's attributes with defaults filled in and checked; no input size needed.

    ``pads`` holds the explicit pads (begins then ends; zeros for VALID) and is None for
    SAME_*, whose pads depend on the input sizes.
    """

    op: str
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...] | None
    auto_pad: str
    ceil_mode: bool

    @property
    def same(self) -> bool:
        return self.pads is None

    @property
    def extents(self) -> tuple[int, ...]:
        """Span of one dilated kernel along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))

    @property
    def pads_begin(self) -> tuple[int, ...]:
        return self._explicit()[: len(self.kernel)]

    @property
    def pads_end(self) -> tuple[int, ...]:
        return self._explicit()[len(self.kernel):]

    def _explicit(self) -> tuple[int, ...]:
        if self.pads is None:
            raise ValueError(f"{self.op}: auto_pad={self.auto_pad} pads depend on the input "
                             "sizes; resolve them with sliding_window()")
        return self.pads


@dataclass(frozen=True)
class SlidingWindow:
    """A resolved window over the spatial axes (every tuple has one entry per axis).

    ``pads_begin`` / ``pads_end`` are the pads the op means (they count for
    count_include_pad); ``extra_end`` is what must be added to ``pads_end`` so that an
    unpadded floor-mode kernel yields exactly ``out_shape`` positions: positive when a
    ceil-mode window reaches past the end padding, negative when the last cells are never
    read (then they may be cropped).
    """

    in_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    out_shape: tuple[int, ...]
    extra_end: tuple[int, ...]

    @property
    def extents(self) -> tuple[int, ...]:
        """Span of one dilated kernel along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))

    @property
    def fit_end(self) -> tuple[int, ...]:
        """End padding (negative: crop) after which floor mode gives exactly out_shape."""
        return tuple(e + x for e, x in zip(self.pads_end, self.extra_end, strict=True))


@dataclass(frozen=True)
class TransposeWindow:
    """ConvTranspose's output geometry per spatial axis.

    ``full`` is the unpadded transposed output ``stride * (in - 1) + output_padding +
    extent``; ``crop_begin`` / ``crop_end`` are the cells removed from its beginning / end
    (negative: zero cells added) to give ``out_shape``.
    """

    full: tuple[int, ...]
    crop_begin: tuple[int, ...]
    crop_end: tuple[int, ...]
    out_shape: tuple[int, ...]


# ---------------------------------------------------------------------- attributes


def per_axis(op: str, name: str, values: Sequence[int] | None, n: int,
             default: int) -> tuple[int, ...]:
    """``values`` as n ints, or ``default`` on every axis when absent or empty."""
    if values is None or len(values) == 0:
        return (default,) * n
    if len(values) != n:
        raise ValueError(f"{op}: {name} has {len(values)} values {list(values)}, expected {n} "
                         f"(one per spatial axis{', begins then ends' if name == 'pads' else ''})")
    return tuple(int(v) for v in values)


def _positive(op: str, name: str, values: tuple[int, ...]) -> tuple[int, ...]:
    if any(v < 1 for v in values):
        raise ValueError(f"{op}: {name} must be positive, got {list(values)}")
    return values


def check_auto_pad(op: str, auto_pad: str) -> str:
    if auto_pad not in AUTO_PADS:
        raise ValueError(f"{op}: auto_pad must be one of {AUTO_PADS}, got {auto_pad!r}")
    return auto_pad


def window_attrs(op: str, rank: int, kernel_shape: Sequence[int] | None, *,
                 strides: Sequence[int] | None = None,
                 dilations: Sequence[int] | None = None, pads: Sequence[int] | None = None,
                 auto_pad: str = "NOTSET", ceil_mode: int = 0) -> WindowAttrs:
    """Check and complete the window attributes of an ``op`` node with ``rank`` spatial axes."""
    if not kernel_shape or len(kernel_shape) != rank:
        raise ValueError(f"{op}: kernel_shape {None if kernel_shape is None else list(kernel_shape)}"
                         f" must give one size per spatial axis ({rank})")
    kernel = _positive(op, "kernel_shape", tuple(int(k) for k in kernel_shape))
    st = _positive(op, "strides", per_axis(op, "strides", strides, rank, 1))
    dl = _positive(op, "dilations", per_axis(op, "dilations", dilations, rank, 1))
    check_auto_pad(op, auto_pad)
    if ceil_mode not in (0, 1):
        raise ValueError(f"{op}: ceil_mode must be 0 or 1, got {ceil_mode!r}")
    explicit: tuple[int, ...] | None = None
    if auto_pad == "VALID":
        explicit = (0,) * (2 * rank)
    elif auto_pad == "NOTSET":
        explicit = per_axis(op, "pads", pads, 2 * rank, 0)
        if any(p < 0 for p in explicit):
            raise ValueError(f"{op}: pads must be non-negative, got {list(explicit)}")
    return WindowAttrs(op, kernel, st, dl, explicit, auto_pad, bool(ceil_mode))


# ------------------------------------------------------------------------ per axis


def split_total(total: int, auto_pad: str) -> tuple[int, int]:
    """(begin, end) of a total padding: SAME_UPPER puts the odd cell at the end, every
    other mode at the beginning. Floor division keeps the split meaningful for a negative
    total (ConvTranspose's crop that becomes zero cells)."""
    begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
    return begin, total - begin


def same_out(size: int, stride: int) -> int:
    """SAME_*: ceil(size / stride) positions."""
    return -(-size // stride)


def same_total(size: int, stride: int, extent: int) -> int:
    """SAME_*: the total padding that gives ceil(size / stride) positions."""
    return max((same_out(size, stride) - 1) * stride + extent - size, 0)


def explicit_out(size: int, begin: int, end: int, extent: int, stride: int,
                 ceil_mode: bool) -> int:
    """Window positions along one axis with explicit pads (floor, or ceil_mode dropping a
    last window that would start inside the end padding)."""
    span = size + begin + end - extent
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + begin:
        out -= 1
    return out


def fit_extra(size: int, begin: int, end: int, extent: int, stride: int, out: int) -> int:
    """Cells to add after ``end`` (negative: crop) so floor mode gives exactly ``out``."""
    return (out - 1) * stride + extent - (size + begin + end)


# ------------------------------------------------------------------------- windows


def resolve_window(attrs: WindowAttrs, in_shape: Sequence[int]) -> SlidingWindow:
    """The window of ``attrs`` over an input of spatial shape ``in_shape`` (static ints)."""
    op, n = attrs.op, len(attrs.kernel)
    if len(in_shape) != n:
        raise ValueError(f"{op}: the input has {len(in_shape)} spatial axes {list(in_shape)}, "
                         f"the window {n} (kernel_shape {list(attrs.kernel)})")
    sizes = tuple(int(i) for i in in_shape)
    begin, end, out = [], [], []
    for a, (i, s, e) in enumerate(zip(sizes, attrs.strides, attrs.extents, strict=True)):
        if attrs.pads is None:
            b, p = split_total(same_total(i, s, e), attrs.auto_pad)
            o = same_out(i, s)
        else:
            b, p = attrs.pads[a], attrs.pads[a + n]
            o = explicit_out(i, b, p, e, s, attrs.ceil_mode)
        begin.append(b)
        end.append(p)
        out.append(o)
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{op}: the window (kernel_shape {list(attrs.kernel)}, dilations "
            f"{list(attrs.dilations)}) is bigger than the padded input {list(sizes)} (pads "
            f"{begin + end}): the output spatial shape would be {out}; pad the input or use a "
            "smaller kernel")
    extra = tuple(fit_extra(*args) for args in
                  zip(sizes, begin, end, attrs.extents, attrs.strides, out, strict=True))
    return SlidingWindow(sizes, attrs.kernel, attrs.strides, attrs.dilations, tuple(begin),
                         tuple(end), tuple(out), extra)


def sliding_window(op: str, in_shape: Sequence[int], kernel_shape: Sequence[int] | None, *,
                   strides: Sequence[int] | None = None,
                   dilations: Sequence[int] | None = None, pads: Sequence[int] | None = None,
                   auto_pad: str = "NOTSET", ceil_mode: int = 0) -> SlidingWindow:
    """:func:`window_attrs` then :func:`resolve_window` in one call."""
    attrs = window_attrs(op, len(in_shape), kernel_shape, strides=strides,
                         dilations=dilations, pads=pads, auto_pad=auto_pad,
                         ceil_mode=ceil_mode)
    return resolve_window(attrs, in_shape)


def conv_transpose_window(op: str, in_shape: Sequence[int], kernel_shape: Sequence[int], *,
                          strides: Sequence[int] | None = None,
                          dilations: Sequence[int] | None = None,
                          pads: Sequence[int] | None = None, auto_pad: str = "NOTSET",
                          output_padding: Sequence[int] | None = None,
                          output_shape: Sequence[int] | None = None) -> TransposeWindow:
    """ConvTranspose's output geometry (opset 11's rules, which runtimes use for every
    version): an ``output_shape`` (its last len(in_shape) values) or SAME_* (``in *
    stride``) fixes the output and the total padding is split by :func:`split_total`;
    otherwise the explicit pads crop the full output."""
    n = len(in_shape)
    attrs = window_attrs(op, n, kernel_shape, strides=strides, dilations=dilations,
                         pads=pads, auto_pad=auto_pad)
    out_pad = per_axis(op, "output_padding", output_padding, n, 0)
    if any(p < 0 for p in out_pad):
        raise ValueError(f"{op}: output_padding must be non-negative, got {list(out_pad)}")
    sizes = tuple(int(i) for i in in_shape)
    full = tuple(s * (i - 1) + p + e for s, i, p, e in
                 zip(attrs.strides, sizes, out_pad, attrs.extents, strict=True))
    if output_shape or attrs.same:
        target = _transpose_target(op, sizes, attrs.strides, output_shape)
        split = [split_total(f - o, auto_pad) for f, o in zip(full, target, strict=True)]
        begin, end = tuple(b for b, _ in split), tuple(e for _, e in split)
    else:
        begin, end = attrs.pads_begin, attrs.pads_end
    out = tuple(f - b - e for f, b, e in zip(full, begin, end, strict=True))
    if any(o <= 0 for o in out):
        raise ValueError(f"{op}: pads {list(begin + end)} crop the whole output {list(full)} "
                         f"(input {list(sizes)}); use smaller pads")
    return TransposeWindow(full, begin, end, out)


def _transpose_target(op: str, sizes: tuple[int, ...], strides: tuple[int, ...],
                      output_shape: Sequence[int] | None) -> tuple[int, ...]:
    n = len(sizes)
    if not output_shape:
        return tuple(i * s for i, s in zip(sizes, strides, strict=True))
    if len(output_shape) not in (n, n + 2):
        raise ValueError(f"{op}: output_shape {list(output_shape)} must have {n} spatial sizes "
                         f"(or {n + 2} with N and C)")
    return tuple(int(v) for v in output_shape[-n:])
