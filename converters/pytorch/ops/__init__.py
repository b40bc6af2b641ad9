"""ATen translations, one module per op family (docs/op-families.md). Importing this package
registers them all."""

from tensorbridge.converters.pytorch.ops import (  # noqa: F401  (imported for their registrations)
    ops_attention,
    ops_cast,
    ops_core,
    ops_embedding,
    ops_generators,
    ops_index,
    ops_linalg,
    ops_math,
    ops_misc,
    ops_nn,
    ops_norm,
    ops_pad,
    ops_reduce,
    ops_resize,
    ops_rnn,
    ops_select,
    ops_shape,
)
