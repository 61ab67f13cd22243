"""Every fuzz target (fuzz/) for a short run: the seeds and a few thousand mutations.

The same ``check`` functions ``make fuzz`` hands atheris, driven here by a
seeded mutator (fuzz/harness.py ``replay``): any exception outside the
project's error family is a crash and fails the test. ``UNDERSEAL_FUZZ_INPUTS``
sets the mutations per target.
"""

from __future__ import annotations

import importlib
import os

import pytest

INPUTS = int(os.environ.get("UNDERSEAL_FUZZ_INPUTS", "3000"))
TARGETS = [
    "bundle",
    "sealed",
    "warrant",
    "checkpoint",
    "signed_request",
    "token_delivery",
    "evidence",
    "images",
]


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target_short(name: str) -> None:
    from fuzz.harness import replay

    module = importlib.import_module(f"fuzz.fuzz_{name}")
    target = replay(module.TARGET, inputs=INPUTS)
    assert target.executions >= INPUTS
    assert not target.crashes, target.crashes
