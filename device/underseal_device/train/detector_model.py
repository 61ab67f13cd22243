"""The plate detector's network: a small fully convolutional score-and-box model.

Why this shape: a plate is a single, compact, high-contrast object class, so
an anchor-free dense predictor (one score and one box per cell, as EAST and
FCOS do for text and objects) is enough, and it needs no anchor tuning or
learned NMS. Output stride 4 keeps plates 12 px wide at the input (a
28-px plate in a 720p frame at the default 640-px input) two to three cells
wide. Depthwise-separable blocks keep the cost near 0.2 GMAC at 640×384;
the 1/16 stage's dilations give a receptive field wider than the largest
plate, so sign panels and bumper stickers can be told from plates by their
surroundings.

Input ``N×3×H×W`` (BGR, x/255; H and W multiples of 32). Output
``N×5×H/4×W/4``: channel 0 the plate-score logit; channels 1-4 the
log-distances (in units of 4 input pixels) from the cell's centre to the
box's left, top, right and bottom edges.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

STRIDE = 4
#: Input sides must be multiples of this (the deepest stage's stride).
ALIGN = 32


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class _Separable(nn.Module):
    """Depthwise 3×3 (stride, dilation) then pointwise 1×1, each with BN and ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, stride, dilation, dilation, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
        )
        self.pointwise = _conv_bn(c_in, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.pointwise(self.depthwise(x))
        return x + y if self.residual else y


class PlateDetector(nn.Module):
    """Backbone to 1/16, a light top-down path back to 1/4, score and box heads."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        c1, c2, c3, c4 = width, width * 2, width * 4, width * 6
        self.stem = _conv_bn(3, c1, 3, 2)  # 1/2
        self.stage2 = nn.Sequential(_Separable(c1, c2, 2), _Separable(c2, c2))  # 1/4
        self.stage3 = nn.Sequential(
            _Separable(c2, c3, 2), _Separable(c3, c3), _Separable(c3, c3)
        )  # 1/8
        self.stage4 = nn.Sequential(
            _Separable(c3, c4, 2), _Separable(c4, c4, dilation=2), _Separable(c4, c4, dilation=4)
        )  # 1/16
        self.lateral4 = nn.Conv2d(c4, c2, 1)
        self.lateral3 = nn.Conv2d(c3, c2, 1)
        self.lateral2 = nn.Conv2d(c2, c2, 1)
        self.head = nn.Sequential(_Separable(c2, c2), _Separable(c2, c2))
        self.score = nn.Conv2d(c2, 1, 1)
        self.box = nn.Conv2d(c2, 4, 1)
        # A rare class: start every cell at a low plate probability (focal-loss practice).
        if self.score.bias is not None:
            nn.init.constant_(self.score.bias, -4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``N×3×H×W`` → ``N×5×H/4×W/4`` (score logit, 4 log-distances)."""
        f2 = self.stage2(self.stem(x))
        f3 = self.stage3(f2)
        f4 = self.stage4(f3)
        p = functional.interpolate(self.lateral4(f4), scale_factor=2.0, mode="nearest")
        p = functional.interpolate(p + self.lateral3(f3), scale_factor=2.0, mode="nearest")
        h = self.head(p + self.lateral2(f2))
        return torch.cat([self.score(h), self.box(h)], 1)
