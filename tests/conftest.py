"""Shared test settings: Hypothesis profiles.

``ci`` (the default) keeps the whole suite well under three minutes on two cores and is
derandomized, so a run is reproducible. ``thorough`` (``HYPOTHESIS_PROFILE=thorough``) tries many
more examples for a longer search.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
