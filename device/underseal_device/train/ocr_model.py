"""The plate recognizer's network: a small CNN with a CTC head.

Why CTC rather than fixed character slots: US plates have 2 to 8
characters, spacing that varies by state and layout, and small stacked
characters read in line; CTC aligns the text to the image by itself, so the
model needs no knowledge of where each character sits. The head is
convolutional (no recurrent layer) so that the exported graph is small and
fast on onnxruntime's CPU kernels.

Input ``N×1×32×128`` in [0, 1]; output ``N×32×37`` logits (32 steps of 4
pixels each, 36 characters and a blank at index 0).
"""

from __future__ import annotations

import torch
from torch import nn

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEIGHT = 32
WIDTH = 128
CLASSES = len(ALPHABET) + 1  # blank first


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class PlateCTC(nn.Module):
    """CNN backbone (height 32 → 1, width 128 → 32), 1-D context, per-step classifier."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_block(1, w // 2),
            nn.MaxPool2d(2),  # 16×64
            *_block(w // 2, w),
            nn.MaxPool2d(2),  # 8×32
            *_block(w, w * 3 // 2),
            *_block(w * 3 // 2, w * 3 // 2),
            nn.MaxPool2d((2, 1)),  # 4×32
            *_block(w * 3 // 2, w * 2),
            nn.MaxPool2d((2, 1)),  # 2×32
            nn.Conv2d(w * 2, w * 2, (2, 1), bias=False),  # 1×32: height folded into channels
            nn.BatchNorm2d(w * 2),
            nn.ReLU(),
        )
        self.context = nn.Sequential(
            nn.Conv1d(w * 2, w * 2, 5, padding=2, bias=False),
            nn.BatchNorm1d(w * 2),
            nn.ReLU(),
            nn.Conv1d(w * 2, w * 2, 5, padding=2, bias=False),
            nn.BatchNorm1d(w * 2),
            nn.ReLU(),
            nn.Dropout(0.1),
        )
        self.classify = nn.Conv1d(w * 2, CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``N×1×32×128`` → ``N×32×CLASSES`` logits."""
        f = self.features(x).squeeze(2)  # N×C×32
        logits: torch.Tensor = self.classify(self.context(f))
        return logits.transpose(1, 2)
