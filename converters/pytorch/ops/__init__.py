"""ATen translations, one module per op family. Importing this package registers them all."""

from converters.pytorch.ops import (  # noqa: F401  (imported for their registrations)
    ops_core,
)
