"""PyTorch emitters, one module per op family. Importing this package registers them all."""

from tensorbridge.converters.pytorch.from_ir.ops import (  # noqa: F401  (imported for their registrations)
    activation,
    cast,
    control_flow,
    elementwise,
    generators,
    index,
    math,
    misc,
    nn,
    nn2,
    nn3,
    nn4,
    quantization,
    random,
    rnn,
    sequence,
    shape,
    signal,
)
