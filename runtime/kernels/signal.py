"""Kernels: signal processing (DFT, STFT, window functions, mel filterbank).

ONNX carries complex values as a trailing dimension of size 2 (real, imaginary); a real
signal has a trailing dimension of size 1. The kernels convert to numpy complex arrays, use
``np.fft``, and convert back, casting the result to the input's element type. float16 and
bfloat16 are widened to float32 first because numpy's FFT does not support them.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.registry import kernel


def _fft_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _to_complex(x: np.ndarray, op: str) -> np.ndarray:
    """[..., 1] real or [..., 2] (re, im) -> numpy complex array without the last dim."""
    work = x.astype(_fft_dtype(x.dtype), copy=False)
    if x.shape[-1] == 1:
        return work[..., 0]
    if x.shape[-1] == 2:
        return work[..., 0] + 1j * work[..., 1]
    raise ValueError(f"{op}: last input dimension must be 1 (real) or 2 (complex), got {x.shape[-1]}")


def _from_complex(z: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Complex array -> [..., 2] (re, im) in ``dtype``."""
    return np.stack((z.real, z.imag), axis=-1).astype(dtype, copy=False)


def _dft(x: np.ndarray, dft_length: np.ndarray | None, axis: int, inverse: int,
         onesided: int) -> np.ndarray:
    """The DFT once ``axis`` is known."""
    rank = x.ndim
    if not (-rank <= axis <= -2 or 0 <= axis <= rank - 2):
        raise ValueError(f"DFT axis {axis} out of range for a rank-{rank} input (the last "
                         "dimension holds real/imaginary parts)")
    axis = axis % rank
    n = None if dft_length is None else int(dft_length)
    if onesided and inverse:
        # IRFFT: one-sided complex spectrum -> full real signal, default length 2*(bins-1).
        signal = np.fft.irfft(_to_complex(x, "DFT"), n=n, axis=axis)
        return signal[..., None].astype(x.dtype, copy=False)
    z = _to_complex(x, "DFT")
    y: np.ndarray
    if onesided:
        y = np.fft.rfft(z, n=n, axis=axis) if z.dtype.kind == "f" else _half_spectrum(z, n, axis)
    else:
        y = np.fft.ifft(z, n=n, axis=axis) if inverse else np.fft.fft(z, n=n, axis=axis)
    return _from_complex(y, x.dtype)


def _half_spectrum(z: np.ndarray, n: int | None, axis: int) -> np.ndarray:
    """Forward one-sided transform of a complex signal: the first n//2+1 bins of the full FFT."""
    y = np.fft.fft(z, n=n, axis=axis)
    bins = y.shape[axis] // 2 + 1
    return np.take(y, np.arange(bins), axis=axis)


@kernel("DFT", since=20)
def dft(input: np.ndarray, dft_length: np.ndarray | None = None,
        axis: np.ndarray | None = None, *, inverse: int = 0, onesided: int = 0) -> np.ndarray:
    """DFT-20: input[..., 1|2], dft_length?, axis? (default -2) -> output[..., 1|2]. DFT-17's
    axis attribute is rewritten by ir/op_versions.py."""
    return _dft(input, dft_length, -2 if axis is None else int(axis), inverse, onesided)


@kernel("STFT", since=17)
def stft(signal: np.ndarray, frame_step: np.ndarray, window: np.ndarray | None = None,
         frame_length: np.ndarray | None = None, *, onesided: int = 1) -> np.ndarray:
    """STFT-17: signal[batch, len, 1|2], frame_step, window?, frame_length?
    -> output[batch, frames, bins, 2]."""
    if signal.ndim != 3:
        raise ValueError(f"STFT signal must have rank 3 [batch, length, 1|2], got {signal.shape}")
    step = int(frame_step)
    if frame_length is not None:
        length = int(frame_length)
        if window is not None and window.shape[0] != length:
            raise ValueError(f"STFT window length {window.shape[0]} != frame_length {length}")
    else:
        length = window.shape[0] if window is not None else signal.shape[1]
    if step <= 0 or not 0 < length <= signal.shape[1]:
        raise ValueError(f"STFT needs frame_step > 0 and 0 < frame_length <= signal length "
                         f"{signal.shape[1]}, got step={step}, frame_length={length}")
    z = _to_complex(signal, "STFT")
    if onesided and signal.shape[-1] == 2:
        raise ValueError("STFT onesided=1 is not possible for a complex signal; set onesided=0")
    # [batch, frames, frame_length] strided view, no copy until the window multiply.
    frames = np.lib.stride_tricks.sliding_window_view(z, length, axis=1)[:, ::step]
    if window is not None:
        frames = frames * window.astype(z.real.dtype, copy=False)
    spec = np.fft.rfft(frames, axis=-1) if onesided else np.fft.fft(frames, axis=-1)
    return _from_complex(spec, signal.dtype)


def _cosine_window(size: np.ndarray, periodic: int, coeffs: tuple[float, ...],
                   output_datatype: int) -> np.ndarray:
    """sum_k (-1)^k a_k cos(2 pi k n / N), N = size (periodic) or size - 1 (symmetric)."""
    n_points = int(size)
    if n_points < 0:
        raise ValueError(f"window size must be non-negative, got {n_points}")
    out = DType(output_datatype).np_dtype
    denom = n_points if periodic else n_points - 1
    if denom <= 0:
        # A one-point symmetric window has no period to sample; like numpy, pass the sample.
        return np.ones(n_points, dtype=out)
    phase = 2.0 * np.pi * np.arange(n_points, dtype=np.float64) / denom
    y = np.zeros(n_points, dtype=np.float64)
    for k, a in enumerate(coeffs):
        y += (-1) ** k * a * np.cos(k * phase)
    if out.kind in "iu":
        # Integer outputs truncate; drop float64 noise first so a peak of 0.9999999999999999
        # becomes 1 rather than 0.
        y = np.round(y, 9)
    return y.astype(out)


@kernel("HannWindow", since=17)
def hann_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> np.ndarray:
    """HannWindow-17: size -> output[size]."""
    return _cosine_window(size, periodic, (0.5, 0.5), output_datatype)


@kernel("HammingWindow", since=17)
def hamming_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> np.ndarray:
    """HammingWindow-17: size -> output[size] (a0 = 25/46)."""
    return _cosine_window(size, periodic, (25.0 / 46.0, 21.0 / 46.0), output_datatype)


@kernel("BlackmanWindow", since=17)
def blackman_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> np.ndarray:
    """BlackmanWindow-17: size -> output[size]."""
    return _cosine_window(size, periodic, (0.42, 0.5, 0.08), output_datatype)


@kernel("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins: np.ndarray, dft_length: np.ndarray, sample_rate: np.ndarray,
                      lower_edge_hertz: np.ndarray, upper_edge_hertz: np.ndarray, *,
                      output_datatype: int = 1) -> np.ndarray:
    """MelWeightMatrix-17: -> output[dft_length // 2 + 1, num_mel_bins] of triangular filters."""
    n_mel, n_fft, rate = int(num_mel_bins), int(dft_length), int(sample_rate)
    n_spec = n_fft // 2 + 1
    low_mel = 2595.0 * np.log10(1.0 + float(lower_edge_hertz) / 700.0)
    high_mel = 2595.0 * np.log10(1.0 + float(upper_edge_hertz) / 700.0)
    # n_mel triangles need n_mel + 2 edges; the ONNX definition spaces them by
    # (high - low) / (n_mel + 2) and maps each edge to a DFT bin with floor((n+1) f / rate).
    mels = np.arange(n_mel + 2, dtype=np.float64) * ((high_mel - low_mel) / (n_mel + 2)) + low_mel
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    edges = np.floor((n_fft + 1) * hz / rate).astype(np.int64)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    j = np.arange(n_spec)[:, None]
    rise = (j - left) / np.maximum(center - left, 1)
    fall = (right - j) / np.maximum(right - center, 1)
    out = np.where(j == center, 1.0,
                   np.where((j >= left) & (j < center), rise,
                            np.where((j > center) & (j < right), fall, 0.0)))
    return out.astype(DType(output_datatype).np_dtype)
