"""Settings for the whole suite."""

from __future__ import annotations

import os
import uuid

from hypothesis import HealthCheck, settings

# Fixtures shared by the suite (a channel to the ``server`` fixture) and factories of fixtures;
# the session-wide log secret scan over every stack the session started.
pytest_plugins = ["tests.helpers.fixtures", "tests.helpers.secret_ledger"]

# Timing-based checks make property tests flaky on a loaded 2-core CI machine; the properties are
# what we test, not how fast one example runs.
settings.register_profile(
    "portal",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "portal"))

# Services the tests build from settings (service tests on the machine's Redis) use a key namespace
# of this session, never the one of a `make run` stack on the same Redis; every whole stack a test
# starts gets one of its own on top (tests/helpers/stacks.py).
os.environ["CACHE_NAMESPACE"] = f"test_{uuid.uuid4().hex[:10]}"

# The suite runs on the development secrets (test stacks set this for their processes too; a
# test that checks the production refusal starts its processes with another value).
os.environ.setdefault("PORTAL_ENV", "development")
