"""What an action handler gets: the state, the settings, the hook sink and the SSO token book."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sandbox.whmcs.phpform import Params
from sandbox.whmcs.settings import WhmcsSettings
from sandbox.whmcs.store import Store


class HookSink(Protocol):
    def emit(self, event: str, client_id: int | str, data: dict[str, Any]) -> None: ...


@dataclass
class SsoToken:
    client_id: int
    path: str
    expires_at: float
    used: bool = False


@dataclass
class SsoBook:
    """One-time SSO tokens and the browser sessions they open."""

    ttl: float
    tokens: dict[str, SsoToken] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)  # session cookie → client id

    def issue(self, client_id: int, path: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = SsoToken(client_id, path, time.monotonic() + self.ttl)
        return token

    def open_session(self, client_id: int) -> str:
        session = secrets.token_hex(16)
        self.sessions[session] = client_id
        return session

    def clear(self) -> None:
        self.tokens.clear()
        self.sessions.clear()


@dataclass
class Ctx:
    store: Store
    settings: WhmcsSettings
    hooks: HookSink
    sso: SsoBook
    public_url: str = ""

    @staticmethod
    def today() -> date:
        return date.today()

    @staticmethod
    def now() -> datetime:
        return datetime.now().replace(microsecond=0)


Handler = Callable[[Ctx, Params], dict[str, Any]]
