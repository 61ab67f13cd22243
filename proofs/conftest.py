"""Hypothesis profiles for the proofs, the same names as tests/conftest.py.

`make test` runs the proofs with ``ci`` (short); `make proofs` with ``thorough``.
Each proof scales its own example and step counts from the profile
(:func:`proofs.world.proof_settings`), since one example of a state machine
stands up a whole deployment.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
