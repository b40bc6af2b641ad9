"""ATen translations, one module per op family. Importing this package registers them all."""

from tensorbridge.converters.pytorch.ops import (  # noqa: F401  (imported for their registrations)
    ops_core,
    ops_index,
    ops_math,
    ops_math2,
    ops_misc,
    ops_nn,
    ops_nn2,
    ops_nn3,
    ops_reduce,
    ops_rnn,
    ops_shape,
)
