"""TF op translations, one module per op family. Importing this package registers them all."""

from tensorbridge.converters.tensorflow.ops import (  # noqa: F401  (imported for their registrations)
    ops_control,
    ops_image,
    ops_index,
    ops_math,
    ops_nn,
    ops_reduce,
    ops_shape,
    ops_unary,
)
