"""Numpy kernels for the ONNX operator set, grouped by family. Importing this package
registers every kernel in :data:`runtime.registry.KERNELS`."""

from runtime.kernels import (  # noqa: F401  (imported for their registrations)
    activation,
    attention,
    attention_state,
    cast,
    control_flow,
    conv,
    elementwise,
    indexing,
    math,
    ml,
    ml_tree,
    nn_misc,
    norm,
    pool,
    quantization,
    random,
    reduce,
    resize,
    rnn,
    sequence,
    shape,
    signal,
    string,
    training,
)
