"""Shared test settings: Hypothesis profiles, and the default dtype restored after each test.

``ci`` (the default) keeps the whole suite well under three minutes on two cores and is
derandomized, so a run is reproducible. ``thorough`` (``HYPOTHESIS_PROFILE=thorough``) tries many
more examples for a longer search.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

import tinygrad_ko as tg

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    """Every test leaves the default float dtype as it found it."""
    saved = tg.get_default_dtype()
    yield
    tg.set_default_dtype(saved)
