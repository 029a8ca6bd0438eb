"""identity takes a client address from ``x-forwarded-for`` only when the gateway called."""

from __future__ import annotations

from typing import Any

import pytest

from services.common import context
from services.identity.servicer import client_address


class FakeContext:
    def __init__(self, metadata: tuple[tuple[str, str], ...], peer: str) -> None:
        self._metadata, self._peer = metadata, peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer


@pytest.mark.parametrize(
    ("from_gateway", "expected"), [(True, "198.51.100.4"), (False, "10.0.0.9")]
)
def test_forwarded_address_only_from_the_gateway(from_gateway: bool, expected: str) -> None:
    ctx: Any = FakeContext((("x-forwarded-for", "203.0.113.1, 198.51.100.4"),), "ipv4:10.0.0.9:5")
    token = context.from_gateway.set(from_gateway)
    try:
        assert client_address(ctx) == expected
    finally:
        context.from_gateway.reset(token)
