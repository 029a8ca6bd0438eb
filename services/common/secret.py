"""A secret value that does not print: settings' and clients' passwords, keys and URLs with
credentials in them.

``repr``/``str`` (what a log line, a traceback's locals or an f-string would show) give
``'**********'``; only :meth:`SecretStr.get_secret_value` gives the value, so every place that
uses a secret says so. The name and the interface are those of pydantic's ``SecretStr``, which
the services used before their settings stopped importing pydantic
(``services/common/envsettings.py`` says why).
"""

from __future__ import annotations

MASK = "**********"


class SecretStr:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret is a string, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretStr('{self}')"

    def __str__(self) -> str:
        return MASK if self._value else ""

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
