"""Settings for the whole suite."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from types import FrameType

import pytest
from hypothesis import HealthCheck, settings

from tools.signals import stop_with_parent

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


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM/SIGHUP end the session like a Ctrl-C (fixtures torn down: every test stack stopped)
    # instead of killing the interpreter; under make, make's death is a SIGTERM (tools/signals.py).
    stop_with_parent()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Whatever an interrupted teardown did not stop, stopped here, by PID."""
    from tests.helpers.stacks import STARTED

    for stack, _ in STARTED:
        left = stack.kill_left_behind()
        if left:
            print(f"stopped left-behind stack processes: {', '.join(left)}", file=sys.stderr)
