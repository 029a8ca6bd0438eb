"""PHP-style form parameters: bracket arrays and base64(serialize(array)) fields."""

from __future__ import annotations

import base64
import binascii
import builtins
import re
from collections.abc import Iterable, Mapping

import phpserialize

from sandbox.whmcs.wire import php_int, php_truthy

_BRACKET = re.compile(r"^([^\[\]]+)\[([^\]]*)\](.*)$")


class Params:
    """A POSTed form as PHP sees it: ``pid[0]=12``, ``pid[]=14``, ``email_preferences[a]=1``."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.flat: dict[str, str] = {}
        self.arrays: dict[str, list[tuple[str, str]]] = {}
        for key, value in pairs:
            match = _BRACKET.match(key)
            if match is None:
                self.flat[key] = value
                continue
            name, index, _rest = match.groups()
            entries = self.arrays.setdefault(name, [])
            if index == "":
                index = str(sum(1 for k, _ in entries if k.isdigit()))
            entries[:] = [(k, v) for k, v in entries if k != index]
            entries.append((index, value))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.flat.get(name, default)

    def text(self, name: str) -> str:
        return self.flat.get(name, "").strip()

    def int(self, name: str, default: int = 0) -> int:
        return php_int(self.flat.get(name), default)

    def window(self) -> tuple[builtins.int, builtins.int]:
        """``(limitstart, limitnum)`` of a list action, WHMCS's defaults 0 and 25."""
        start = max(self.int("limitstart"), 0)
        limit = self.int("limitnum", 25) if self.text("limitnum") else 25
        return start, max(limit, 0)

    def flag(self, name: str) -> bool:
        return php_truthy(self.flat.get(name))

    def has(self, name: str) -> bool:
        return name in self.flat or name in self.arrays

    def list(self, name: str) -> list[str]:
        """Values of ``name[i]`` in index order; a scalar ``name=x`` counts as a one-item list."""
        if name in self.arrays:
            entries = self.arrays[name]
            numeric = sorted((int(k), v) for k, v in entries if k.isdigit())
            return [v for _, v in numeric] + [v for k, v in entries if not k.isdigit()]
        if name in self.flat:
            return [self.flat[name]]
        return []

    def mapping(self, name: str) -> dict[str, str]:
        return dict(self.arrays.get(name, []))

    def keys(self) -> set[str]:
        return set(self.flat) | set(self.arrays)


def php_b64_decode(raw: str | None) -> dict[str, str] | None:
    """``base64(serialize(array))`` → ``{"198": "AC-000101"}``; ``None`` when it does not decode
    (PHP's ``unserialize`` would return false and WHMCS silently ignores the field)."""
    if not raw:
        return None
    try:
        data = phpserialize.loads(base64.b64decode(raw, validate=False), decode_strings=True)
    except (ValueError, binascii.Error, TypeError, EOFError):
        return None
    if not isinstance(data, dict):
        return None
    return {_text(k): _text(v) for k, v in data.items()}


def php_b64_encode(values: Mapping[int | str, str | int]) -> str:
    """The inverse, for tests and for anyone writing a client against the sandbox."""
    return base64.b64encode(phpserialize.dumps(dict(values))).decode("ascii")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)
