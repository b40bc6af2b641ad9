"""Kernels: ImageDecoder.

Decoding needs an image library; Pillow is imported lazily inside the kernel so that the
runtime package keeps importing only numpy and ``ir`` (install it with
``pip install 'tensorbridge[image]'``).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from tensorbridge.runtime.registry import kernel

# Pillow format names for the containers ImageDecoder-20 lists; "PPM" is Pillow's plugin for
# the whole PBM/PGM/PPM/PNM family. Other formats Pillow knows (GIF, ICO, ...) are refused so
# a model decodes the same set of files here as on other runtimes.
_SPEC_FORMATS = ("BMP", "JPEG", "JPEG2000", "TIFF", "PNG", "WEBP", "PPM")
_CHANNELS = {"RGB": 3, "BGR": 3, "Grayscale": 1}
# Pillow's 16-bit grey modes; its own convert() clips them to 255 instead of rescaling.
_GREY16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def _pillow_image() -> Any:
    try:
        import PIL.Image  # noqa: PLC0415  (optional dependency, imported only when used)
    except ImportError as e:
        raise ImportError(
            "ImageDecoder needs Pillow to decode images: pip install 'tensorbridge[image]' "
            "(or pip install pillow)"
        ) from e
    return PIL.Image


def _to_8bit(image: Any, pil_image: Any) -> Any:
    """Reduce 16-bit greyscale to 8 bits by keeping the high byte, as libpng's strip-16 does
    (and as Pillow already does for 16-bit RGB), instead of Pillow's clipping."""
    if image.mode not in _GREY16_MODES:
        return image
    grey = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
    return pil_image.fromarray(grey, mode="L")


def _decode(data: np.ndarray, pixel_format: str, pil_image: Any) -> np.ndarray:
    """Decode with Pillow's ``PIL.Image`` module; raises whatever Pillow raises on a bad stream."""
    with pil_image.open(io.BytesIO(data.tobytes()), formats=_SPEC_FORMATS) as image:
        # Multi-frame TIFF/WebP: the opened handle is on the first frame, which is decoded.
        image.load()
        image = _to_8bit(image, pil_image)
        if pixel_format == "Grayscale":
            # Pillow's "L" is ITU-R 601-2 luma in fixed point, which the conformance data uses.
            grey = image if image.mode == "L" else image.convert("L")
            return np.asarray(grey)[:, :, np.newaxis]
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        pixels = np.asarray(rgb)
    if pixel_format == "BGR":
        pixels = np.ascontiguousarray(pixels[:, :, ::-1])
    return pixels


@kernel("ImageDecoder", since=20)
def image_decoder(encoded_stream: np.ndarray, *, pixel_format: str = "RGB") -> np.ndarray:
    """ImageDecoder-20(encoded_stream: uint8[N]) -> image: uint8[H, W, C] (channel-last).

    C is 3 for RGB/BGR and 1 for Grayscale. As the spec requires, a stream that cannot be
    decoded gives an empty image (shape [0, 0, C]); a warning carries the decoder's reason.
    """
    channels = _CHANNELS.get(pixel_format)
    if channels is None:
        raise ValueError(
            f"ImageDecoder: pixel_format must be one of {sorted(_CHANNELS)}, got {pixel_format!r}"
        )
    if encoded_stream.dtype != np.uint8 or encoded_stream.ndim != 1:
        raise ValueError(
            "ImageDecoder: encoded_stream must be a 1-D uint8 tensor, got "
            f"{encoded_stream.dtype} with shape {encoded_stream.shape}"
        )
    pil_image = _pillow_image()  # a missing Pillow is an install problem, not a bad stream
    try:
        pixels = _decode(encoded_stream, pixel_format, pil_image)
    except (OSError, ValueError, SyntaxError, pil_image.DecompressionBombError) as e:
        # OSError covers Pillow's UnidentifiedImageError and truncated streams; SyntaxError is
        # what some Pillow plugins raise on malformed headers.
        warnings.warn(f"ImageDecoder: cannot decode the stream ({e}); returning an empty image",
                      RuntimeWarning, stacklevel=2)
        return np.zeros((0, 0, channels), dtype=np.uint8)
    return np.asarray(pixels, dtype=np.uint8)
