"""tensorbridge: move models between PyTorch, TensorFlow/Keras and ONNX through one graph IR,
and check numerically that the converted model computes the same thing.

    import tensorbridge as tb
    g = tb.load("model.onnx")          # -> ir.Graph
    m = tb.convert("model.onnx", None, to="onnx", opset=18)
    tb.save(m, "out.onnx")             # atomic; external data when large
    ys = tb.run(g, x)                  # built-in numpy runtime
"""

from tensorbridge.api import UnsupportedSourceError, convert, load, run, save
from tensorbridge.check import ParityError, ParityReport, check
from tensorbridge.extend import (
    register_kernel,
    register_schema,
    register_tf_emitter,
    register_tf_translation,
    register_torch_emitter,
    register_torch_translation,
)
from tensorbridge.ir.errors import (
    ConversionError,
    KernelError,
    ModelLoadError,
    TensorbridgeError,
    UnsupportedOpError,
    VerificationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConversionError", "KernelError", "ModelLoadError", "TensorbridgeError", "UnsupportedOpError",
    "ParityError", "ParityReport", "UnsupportedSourceError", "VerificationError", "__version__", "check", "convert",
    "load", "register_kernel", "register_schema", "register_tf_emitter", "register_tf_translation",
    "register_torch_emitter", "register_torch_translation", "run", "save",
]
