"""PyTorch emitters, one module per op family (the map every op tree shares:
docs/op-families.md). Importing this package registers them all."""

from tensorbridge.converters.pytorch.from_ir.ops import (  # noqa: F401  (imported for their registrations)
    activation,
    attention,
    attention_state,
    cast,
    control_flow,
    conv,
    detection,
    elementwise,
    generators,
    index,
    loss,
    math,
    ml,
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
)
