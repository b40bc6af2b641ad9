"""Signal emitters: DFT, STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix.

ONNX carries complex values as a trailing dimension of size 2 (real, imaginary); a real
signal has a trailing dimension of size 1. The emitters build complex64/complex128 tensors
(float16/bfloat16 are widened to float32, TF's FFTs lack them), transform the last axis with
``tf.signal.fft``/``ifft``/``irfft`` and split the result back into (re, im), in the
input's element type."""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType

LAYER = "TensorFlow emitter"


def _real_type(dtype: Any, inverse: int = 0) -> Any:
    """The FFT's real type. Forward transforms run in float64: TF's float32 kernel leaves
    ~1e-6 noise where numpy's float32 FFT (and the exact value) has 0. Inverse transforms of
    float32 data stay float32, which reproduces numpy's complex64 rounding that the stored
    conformance outputs carry (float64 is off by ~2e-7 there)."""
    if dtype == tf.float64 or not inverse:
        return tf.float64
    return tf.float32


def _to_complex(x: Any, inverse: int = 0) -> Any:
    """[..., 1] real or [..., 2] (re, im) -> complex tensor without the last dim."""
    w = tf.cast(x, _real_type(x.dtype, inverse))
    im = w[..., 1] if x.shape[-1] == 2 else tf.zeros_like(w[..., 0])
    return tf.complex(w[..., 0], im)


def _from_complex(z: Any, dtype: Any) -> Any:
    """complex -> [..., 2] (re, im) in ``dtype``."""
    return tf.cast(tf.stack([tf.math.real(z), tf.math.imag(z)], axis=-1), dtype)


def _fit(z: Any, n: Any) -> Any:
    """The last axis zero-padded or truncated to ``n`` (numpy's fft ``n`` rule)."""
    if n is None:
        return z
    short = tf.maximum(n - tf.shape(z, out_type=tf.int64)[-1], 0)
    paddings = tf.concat([tf.zeros([z.shape.rank - 1, 2], tf.int64),
                          tf.reshape(tf.stack([tf.constant(0, tf.int64), short]), [1, 2])], 0)
    return tf.pad(z, paddings)[..., :n]


def _dft(x: Any, dft_length: Any, axis: Any, inverse: int, onesided: int) -> Any:
    """Shared body of DFT-17 and DFT-20; ``axis`` may be a run-time scalar (DFT-20), so the
    transformed axis moves last with a computed permutation."""
    rank = x.shape.rank
    axis = tf.math.floormod(tf.reshape(tf.cast(axis, tf.int32), []), rank)
    z = _to_complex(x, inverse)  # rank - 1, axis keeps its index
    idx = tf.range(rank - 1)
    perm = tf.concat([tf.boolean_mask(idx, tf.not_equal(idx, axis)), axis[None]], 0)
    back = tf.math.invert_permutation(perm)
    z = tf.transpose(z, perm)
    n = None if dft_length is None else tf.reshape(tf.cast(dft_length, tf.int64), [])
    if onesided and inverse:
        # one-sided complex spectrum -> full real signal, default length 2 * (bins - 1)
        bins = tf.shape(z, out_type=tf.int64)[-1]
        length = 2 * (bins - 1) if n is None else n
        # irfft reads length // 2 + 1 bins: pad or truncate the spectrum to that
        y = tf.signal.irfft(_fit(z, length // 2 + 1), tf.reshape(tf.cast(length, tf.int32), [1]))
        return tf.cast(tf.transpose(y, back)[..., None], x.dtype)
    z = _fit(z, n)
    y = tf.signal.ifft(z) if inverse else tf.signal.fft(z)
    if onesided:
        y = y[..., :tf.shape(y)[-1] // 2 + 1]
    return _from_complex(tf.transpose(y, back), x.dtype)


@emits("DFT", since=20)
def dft(input: Any, dft_length: Any = None, axis: Any = None, *, inverse: int = 0,
        onesided: int = 0) -> Any:
    """DFT-20: input[..., 1|2], dft_length?, axis? (default -2) -> output[..., 1|2].
    DFT-17's axis attribute is rewritten to the input by ir/op_versions.py."""
    return _dft(input, dft_length, -2 if axis is None else axis, inverse, onesided)


@emits("STFT", since=17)
def stft(signal: Any, frame_step: Any, window: Any = None, frame_length: Any = None, *,
         onesided: int = 1) -> Any:
    """STFT-17: signal[batch, len, 1|2], frame_step, window?, frame_length?
    -> output[batch, frames, bins, 2]."""
    if frame_length is not None:
        length = tf.reshape(tf.cast(frame_length, tf.int32), [])
    elif window is not None:
        length = tf.shape(window)[0]
    else:
        length = tf.shape(signal)[1]
    step = tf.reshape(tf.cast(frame_step, tf.int32), [])
    z = _to_complex(signal)
    frames = tf.signal.frame(z, length, step, axis=1)  # [batch, frames, length]
    if window is not None:
        frames = frames * tf.cast(tf.cast(window, _real_type(signal.dtype)), frames.dtype)
    spec = tf.signal.fft(frames)
    if onesided:
        spec = spec[..., :length // 2 + 1]
    return _from_complex(spec, signal.dtype)


def _cosine_window(size: Any, periodic: int, coeffs: tuple[float, ...],
                   output_datatype: int) -> Any:
    """sum_k (-1)^k a_k cos(2 pi k n / N), N = size (periodic) or size - 1 (symmetric)."""
    out = tf_dtype(DType(output_datatype))
    n_points = tf.reshape(tf.cast(size, tf.int64), [])
    denom = tf.cast(n_points if periodic else n_points - 1, tf.float64)
    phase = 2.0 * math.pi * tf.math.divide_no_nan(tf.range(n_points, dtype=tf.float64), denom)
    y = tf.add_n([(-1) ** k * a * tf.cos(k * phase) for k, a in enumerate(coeffs)])
    # a one-point symmetric window has no period to sample: like numpy, pass the sample
    y = tf.where(denom > 0, y, tf.ones_like(y))
    if out.is_integer:
        # integer outputs truncate; drop float64 noise so 0.9999999999999999 becomes 1
        y = tf.round(y * 1e9) / 1e9
    return tf.cast(y, out)


@emits("HannWindow", since=17)
def hann_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """HannWindow-17: size -> output[size]."""
    return _cosine_window(size, periodic, (0.5, 0.5), output_datatype)


@emits("HammingWindow", since=17)
def hamming_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """HammingWindow-17: size -> output[size] (a0 = 25/46)."""
    return _cosine_window(size, periodic, (25.0 / 46.0, 21.0 / 46.0), output_datatype)


@emits("BlackmanWindow", since=17)
def blackman_window(size: Any, *, output_datatype: int = 1, periodic: int = 1) -> Any:
    """BlackmanWindow-17: size -> output[size]."""
    return _cosine_window(size, periodic, (0.42, 0.5, 0.08), output_datatype)


def _scalar(v: Any, dtype: Any) -> Any:
    return tf.reshape(tf.cast(v, dtype), [])


def _to_mel(hz: Any) -> Any:
    return 2595.0 * tf.math.log(1.0 + hz / 700.0) / math.log(10.0)


@emits("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins: Any, dft_length: Any, sample_rate: Any,
                      lower_edge_hertz: Any, upper_edge_hertz: Any, *,
                      output_datatype: int = 1) -> Any:
    """MelWeightMatrix-17: -> output[dft_length // 2 + 1, num_mel_bins] of triangular
    filters whose n_mel + 2 edges are spaced by (high - low) / (n_mel + 2) mels and mapped to
    DFT bins by floor((n + 1) f / rate), as the ONNX definition does."""
    n_mel = _scalar(num_mel_bins, tf.int64)
    n_fft = _scalar(dft_length, tf.int64)
    rate = tf.cast(_scalar(sample_rate, tf.int64), tf.float64)
    low = _to_mel(_scalar(lower_edge_hertz, tf.float64))
    high = _to_mel(_scalar(upper_edge_hertz, tf.float64))
    step = (high - low) / tf.cast(n_mel + 2, tf.float64)
    mels = tf.range(n_mel + 2, dtype=tf.float64) * step + low
    hz = 700.0 * (tf.pow(tf.constant(10.0, tf.float64), mels / 2595.0) - 1.0)
    edges = tf.floor(tf.cast(n_fft + 1, tf.float64) * hz / rate)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    j = tf.cast(tf.range(n_fft // 2 + 1), tf.float64)[:, None]
    rise = (j - left) / tf.maximum(center - left, 1.0)
    fall = (right - j) / tf.maximum(right - center, 1.0)
    zero = tf.zeros_like(rise)
    y = tf.where(tf.equal(j, center), tf.ones_like(rise),
                 tf.where((j >= left) & (j < center), rise,
                          tf.where((j > center) & (j < right), fall, zero)))
    return tf.cast(y, tf_dtype(DType(output_datatype)))
