"""Shared test set-up: hypothesis profiles and deterministic keys."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# `make test` runs "ci" (short, so CI stays fast); `make proofs` runs "thorough".
# No deadlines: tests must pass on a slow machine.
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
