"""A model family for testing the sweep runners (``--families-from sweep_probes`` with this
folder on PYTHONPATH): a tiny MLP that converts, a model with an op tensorbridge lacks, one
that hangs, and one whose worker process dies (SIGKILL), counting its attempts in the file
named by $TB_SWEEP_PROBE_MARKS."""

from __future__ import annotations

import os
import signal
import time

from tensorbridge.sweep_families import Built, Family


def _mlp() -> Built:
    import torch

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    return Built(m, (torch.randn(2, 8, generator=torch.Generator().manual_seed(1)),), "torch", note="(2, 8)")


def _det() -> Built:
    import torch

    class Det(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.det(x) + 1.0

    return Built(Det().eval(), (torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(1)),), "torch")


def _hang() -> Built:
    time.sleep(3600)
    raise AssertionError("unreachable: the runner kills this worker on its timeout")


def _crash() -> Built:
    marks = os.environ.get("TB_SWEEP_PROBE_MARKS")
    if marks:
        with open(marks, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


_BUILDERS = {"tiny_mlp": _mlp, "det_unsupported": _det, "sleeper": _hang, "crasher": _crash}

FAMILIES = {"probe": Family("probe", "torch", lambda: sorted(_BUILDERS), lambda name: _BUILDERS[name](),
                            "test probes for the sweep runners")}
