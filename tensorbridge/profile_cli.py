"""``tensorbridge run --profile``: time per op type and per plan step, as rich tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from tensorbridge.runtime.session import Session

PROFILE_RUNS = 5
TOP_STEPS = 15


def profile_session(session: Session, feeds: Any, console: Console, runs: int = PROFILE_RUNS) -> None:
    """Run ``session`` (planned with ``profile=True``, already run once as a warm-up)
    ``runs`` more times and print the mean time per op type and the slowest steps."""
    from rich.table import Table
    from rich.text import Text

    prof = session.profile()
    prof.reset()  # the warm-up run pays first-touch costs: not what the model costs
    for _ in range(runs):
        session.run(feeds)
    per_run = 1e3 / max(prof.runs, 1)
    ops = Table(title=f"time per op type (mean of {prof.runs} runs, {prof.total * per_run:.2f} ms per run)")
    for col in ("op type", "steps", "ms per run", "share"):
        ops.add_column(col, justify="left" if col == "op type" else "right")
    for row in prof.by_op_type():
        ops.add_row(Text(row.op_type), str(row.steps), f"{row.seconds * per_run:.3f}", f"{row.share:.1%}")
    console.print(ops)
    steps = Table(title=f"slowest {TOP_STEPS} plan steps")
    for col in ("step", "node", "op type", "ms per run"):
        steps.add_column(col, justify="right" if col in ("step", "ms per run") else "left")
    for st in prof.by_step(TOP_STEPS):
        steps.add_row(str(st.index), Text(st.node), Text(st.op_type), f"{st.seconds * per_run:.3f}")
    console.print(steps)
