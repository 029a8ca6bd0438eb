"""Settings of the mail sandbox: ``MAIL_SANDBOX_<FIELD>`` variables override the defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

ENV_PREFIX = "MAIL_SANDBOX_"


@dataclass(frozen=True)
class MailSandboxSettings:
    # Messages kept (the oldest go first), so a long-running `make run` does not grow forever.
    max_messages: int = 1000


def settings_from_env(env: Mapping[str, str] | None = None) -> MailSandboxSettings:
    source = os.environ if env is None else env
    names = {f.name: ENV_PREFIX + f.name.upper() for f in fields(MailSandboxSettings)}
    values = {name: int(source[var]) for name, var in names.items() if var in source}
    return MailSandboxSettings(**values)
