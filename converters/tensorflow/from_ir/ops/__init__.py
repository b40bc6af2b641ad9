"""TensorFlow emitters, one module per op family. Importing this package registers them all."""

from tensorbridge.converters.tensorflow.from_ir.ops import (  # noqa: F401  (imported for their registrations)
    activation,
    channels_last,
    control_flow,
    elementwise,
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
    shape2,
    signal,
)
