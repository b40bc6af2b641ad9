"""Graph -> Graph passes, one per file, each returning a :class:`PassReport`."""

from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.cse import eliminate_common_subexpressions
from tensorbridge.ir.passes.dce import eliminate_dead_code

__all__ = ["PassReport", "eliminate_common_subexpressions", "eliminate_dead_code"]
