"""A module called more than once (torchvision's BasicBlock applies its one ``self.relu``
twice) has one boundary output per call in the IR. The layer check must compare each call
with its own output: reading the block's final ReLU for the first call's record failed a
correct ResNet conversion ("layer1.0 differs ... max rel 1.2e+05")."""

from __future__ import annotations

import torch
from torch import nn

import tensorbridge as tb


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


def test_each_call_of_a_shared_relu_is_compared_with_its_own_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Block(8), Block(8)).eval()
    x = torch.randn(1, 3, 12, 12)
    rep = tb.check(model, (x,), to="onnx")
    assert rep.ok, rep.errors
    relu_rows = [row for row in rep.layers if row.module == "1.relu"]
    assert len(relu_rows) == 2 and all(row.ok for row in relu_rows)
