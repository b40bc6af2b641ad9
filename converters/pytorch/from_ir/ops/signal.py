"""Signal-processing emitters: DFT, STFT, the cosine windows and MelWeightMatrix.

ONNX carries complex values as a trailing dimension of 2 (real, imaginary) and real
signals with a trailing dimension of 1: the emitters build a torch complex tensor, call
``torch.fft`` and hand back ``torch.view_as_real`` of the result in the input's type.
float16/bfloat16 are transformed in float32 (torch's CPU FFT has no half kernels)."""

from __future__ import annotations

import math
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T, scalar
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


def _complex(x: Any, ctx: EmitContext, op: str) -> tuple[Any, bool]:
    """[..., 1] real or [..., 2] (re, im) -> (tensor without the last dim, is complex)."""
    xi = info(x, ctx)
    parts = xi.shape[-1]
    if parts not in (1, 2):
        raise UnsupportedOpError(LAYER, op, node=ctx.node_name,
                                 hint=f"the last input dimension must be statically 1 (real) or "
                                 f"2 (complex), got {parts}")
    work = x.to(torch.float64 if xi.dtype == torch.float64 else torch.float32)
    if parts == 1:
        return work[..., 0], False
    return torch.complex(work[..., 0], work[..., 1]), True


def _real_pairs(z: Any, dtype: torch.dtype | None) -> Any:
    """A complex tensor -> [..., 2] (re, im) in ``dtype``."""
    return torch.view_as_real(z).to(dtype)


def _dft(input: Any, dft_length: Any, axis: int, inverse: int, onesided: int,
         ctx: EmitContext) -> Any:
    x = T(input)
    xi = info(x, ctx)
    rank = xi.rank
    if not (-rank <= axis <= -2 or 0 <= axis <= rank - 2):
        raise UnsupportedOpError(LAYER, "DFT", node=ctx.node_name,
                                 hint=f"axis {axis} is out of range for a rank-{rank} input "
                                 "(the last dimension holds real/imaginary parts)")
    dim = axis % rank
    n = None if dft_length is None else scalar(dft_length)
    z, is_complex = _complex(x, ctx, "DFT")
    if onesided and inverse:  # one-sided spectrum -> full real signal
        return torch.fft.irfft(z, n=n, dim=dim)[..., None].to(xi.dtype)
    if onesided and not is_complex:
        y = torch.fft.rfft(z, n=n, dim=dim)
    elif onesided:  # a complex signal's half spectrum: the first n // 2 + 1 bins
        y = torch.fft.fft(z, n=n, dim=dim)
        length = n if n is not None else xi.shape[dim]
        y = y.narrow(dim, 0, length // 2 + 1)
    else:
        y = (torch.fft.ifft if inverse else torch.fft.fft)(z, n=n, dim=dim)
    return _real_pairs(y, xi.dtype)


@emits("DFT", since=20)
def dft_20(input: Any, dft_length: Any = None, axis: Any = None, *, inverse: int = 0,
           onesided: int = 0, ctx: EmitContext) -> Any:
    """DFT-20: input[..., 1|2], dft_length?, axis? (default -2) -> output[..., 1|2]."""
    return _dft(input, dft_length, -2 if axis is None else int(scalar(axis)), inverse,
                onesided, ctx)


@emits("STFT", since=17)
def stft(signal: Any, frame_step: Any, window: Any = None, frame_length: Any = None, *,
         onesided: int = 1, ctx: EmitContext) -> Any:
    """STFT-17: signal[batch, len, 1|2], frame_step, window?, frame_length?
    -> output[batch, frames, bins, 2]."""
    x = T(signal)
    xi = info(x, ctx)
    step = scalar(frame_step)
    if frame_length is not None:
        length = scalar(frame_length)
    else:
        length = info(T(window), ctx, 2).shape[0] if window is not None else xi.shape[1]
    z, is_complex = _complex(x, ctx, "STFT")
    if onesided and is_complex:
        raise UnsupportedOpError(LAYER, "STFT", node=ctx.node_name,
                                 hint="onesided=1 is not possible for a complex signal")
    frames = z.unfold(1, length, step)  # [batch, frames, frame_length], a strided view
    if window is not None:
        frames = frames * T(window).to(frames.real.dtype)
    spec = torch.fft.rfft(frames, dim=-1) if onesided else torch.fft.fft(frames, dim=-1)
    return _real_pairs(spec, xi.dtype)


# ---------------------------------------------------------------------------- windows


def _window(fn: Any, size: Any, periodic: int, output_datatype: int, **kw: Any) -> Any:
    """A torch window in float64, converted to ``output_datatype``. Integer outputs
    truncate; float64 noise is rounded off first so a peak of 0.9999999999999999 gives 1."""
    out = torch_dtype(DType(output_datatype))
    y = fn(scalar(size), periodic=bool(periodic), dtype=torch.float64, **kw)
    if not (out.is_floating_point or out.is_complex):
        y = torch.round(y, decimals=9)
    return y.to(out)


@emits("HannWindow", since=17)
def hann_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """HannWindow-17: size -> output[size], 0.5 - 0.5 cos(2 pi n / N)."""
    return _window(torch.hann_window, size, periodic, output_datatype)


@emits("HammingWindow", since=17)
def hamming_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """HammingWindow-17: size -> output[size]; ONNX's a0 = 25/46, not torch's 0.54."""
    return _window(torch.hamming_window, size, periodic, output_datatype,
                   alpha=25.0 / 46.0, beta=21.0 / 46.0)


@emits("BlackmanWindow", since=17)
def blackman_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """BlackmanWindow-17: size -> output[size], 0.42 - 0.5 cos + 0.08 cos(2x)."""
    return _window(torch.blackman_window, size, periodic, output_datatype)


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


@emits("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins: Any, dft_length: Any, sample_rate: Any,
                      lower_edge_hertz: Any, upper_edge_hertz: Any, *,
                      output_datatype: int = 1) -> Any:
    """MelWeightMatrix-17: -> output[dft_length // 2 + 1, num_mel_bins] of triangles."""
    n_mel, n_fft, rate = (int(scalar(v)) for v in (num_mel_bins, dft_length, sample_rate))
    low = _hz_to_mel(float(scalar(lower_edge_hertz)))
    high = _hz_to_mel(float(scalar(upper_edge_hertz)))
    f64 = torch.float64
    # n_mel triangles need n_mel + 2 edges, spaced (high - low) / (n_mel + 2) apart as the
    # ONNX definition writes it, each mapped to the DFT bin floor((n + 1) * f / rate)
    mels = torch.arange(n_mel + 2, dtype=f64) * ((high - low) / (n_mel + 2)) + low
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    edges = torch.floor((n_fft + 1) * hz / rate)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    j = torch.arange(n_fft // 2 + 1, dtype=f64)[:, None]
    rise = (j - left) / (center - left).clamp_min(1)
    fall = (right - j) / (right - center).clamp_min(1)
    zero = torch.zeros((), dtype=f64)
    out = torch.where(j == center, 1.0,
                      torch.where((j >= left) & (j < center), rise,
                                  torch.where((j > center) & (j < right), fall, zero)))
    return out.to(torch_dtype(DType(output_datatype)))
