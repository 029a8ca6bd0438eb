"""Typed settings read from the environment: the base of every service's settings class.

A class lists its settings as annotated attributes with their defaults::

    class BillingSettings(ServiceSettings, env_prefix="BILLING_"):
        port: int = 50052
        page_token_secret: SecretStr = SecretStr("portal-dev-page-token-secret")
        webhook_window_s: float = setting(300.0, gt=0)

and an instance reads each one from its variable (the prefix and the name, ``BILLING_PORT``, or
the unprefixed name a :func:`shared` setting gives, ``DATABASE_URL``), in any case, else keeps
the default; a keyword argument wins over both. Every value is converted to its annotation and
checked, and every bad one is reported at once, by variable name (:class:`SettingsError`).
Instances are read-only.

Supported annotations: ``str``, ``int``, ``float`` (finite), ``bool`` (``true/false``,
``1/0``, ``yes/no``, ``on/off``, ``t/f``, ``y/n``), ``Path``, :class:`SecretStr`, any of these
``| None`` (an empty variable is ``None``), and another settings class (its own variables, built
with the instance).

Why not pydantic-settings (the house style's choice, used here until 2026-12-07): the services'
settings were the only thing they used pydantic for, and importing pydantic and pydantic-settings
cost every service ~8.7 MiB of its resident memory (bench/README.md, "Settings without
pydantic") against a goal of 80 MiB. What the services need of it (environment variables,
conversion, one report of every bad value, secrets that do not print) is this module.
"""

from __future__ import annotations

import math
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self

from services.common.secret import SecretStr

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_WHOLE = re.compile(r"[+-]?[0-9]+")
_MISSING: Any = object()


class SettingsError(ValueError):
    """One or more variables are missing or unusable: ``problems`` lists ``(variable, message)``."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.problems))


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of a class: its default and checks as declared, then (filled in by the class)
    its name, its annotation and the variable it is read from ("" for a nested settings class,
    which reads its own variables)."""

    default: Any = _MISSING
    env: str | None = None
    gt: float | None = None
    check: Callable[[Any], Any] | None = None
    name: str = ""
    kind: Any = None
    variable: str = ""

    @property
    def shared(self) -> bool:
        """Read from an unprefixed variable that every service shares."""
        return self.env is not None

    @property
    def secret(self) -> bool:
        return _base(self.kind) is SecretStr

    def make_default(self) -> Any:
        if self.default is _MISSING:
            if _is_settings(self.kind):
                return self.kind()
            raise ValueError("must be set")
        return self.default

    def convert(self, raw: Any) -> Any:
        value = _convert(self.kind, raw)
        if value is None:
            return None
        if self.gt is not None and not value > self.gt:
            raise ValueError(f"must be greater than {self.gt:g}")
        if self.check is not None:
            value = self.check(value)
        return value


def setting(
    default: Any = _MISSING, *, gt: float | None = None, check: Callable[[Any], Any] | None = None
) -> Any:
    """A setting with checks: ``gt`` (the value must be greater), ``check`` (a function that
    returns the value or raises ``ValueError`` with what is wrong)."""
    return Setting(default=default, gt=gt, check=check)


def shared(name: str, default: Any, *, check: Callable[[Any], Any] | None = None) -> Any:
    """A setting read from an unprefixed variable shared by every service (``DATABASE_URL``)."""
    return Setting(default=default, env=name, check=check)


class Settings:
    """Base of a settings class; ``env_prefix`` is given as a class keyword."""

    env_prefix: ClassVar[str] = ""
    fields: ClassVar[Mapping[str, Setting]] = types.MappingProxyType({})
    _given: frozenset[str]

    def __init_subclass__(cls, env_prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if env_prefix is not None:
            cls.env_prefix = env_prefix
        found: dict[str, Setting] = {}
        for name, kind in typing.get_type_hints(cls).items():
            if typing.get_origin(kind) is ClassVar or name.startswith("_"):
                continue
            declared = next((vars(k)[name] for k in cls.__mro__ if name in vars(k)), _MISSING)
            spec = declared if isinstance(declared, Setting) else Setting(default=declared)
            if not _supported(kind):
                raise TypeError(f"{cls.__name__}.{name}: unsupported setting type {kind!r}")
            variable = "" if _is_settings(kind) else spec.env or f"{cls.env_prefix}{name}".upper()
            found[name] = replace(spec, name=name, kind=kind, variable=variable)
        cls.fields = types.MappingProxyType(found)

    @classmethod
    def all_fields(cls) -> Iterator[Setting]:
        """Every setting read from a variable: this class's, and those of its nested settings
        classes (commerce's ``FULFILLMENT_*``) in their place."""
        for spec in cls.fields.values():
            if _is_settings(spec.kind):
                yield from spec.kind.all_fields()
            else:
                yield spec

    def __init__(self, **overrides: Any) -> None:
        unknown = sorted(set(overrides) - set(self.fields))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        environ = {name.lower(): value for name, value in os.environ.items()}
        problems: list[tuple[str, str]] = []
        given: set[str] = set()
        for name, spec in self.fields.items():
            try:
                if name in overrides:
                    given.add(name)
                    value = spec.convert(overrides[name])
                elif spec.variable and spec.variable.lower() in environ:
                    given.add(name)
                    value = spec.convert(environ[spec.variable.lower()])
                else:
                    value = spec.make_default()
            except SettingsError as exc:  # a nested settings class's own variables
                problems += exc.problems
                continue
            except (TypeError, ValueError) as exc:
                problems.append((spec.variable or name, str(exc)))
                continue
            object.__setattr__(self, name, value)
        if problems:
            raise SettingsError(problems)
        object.__setattr__(self, "_given", frozenset(given))

    @property
    def fields_set(self) -> frozenset[str]:
        """The settings given by a variable or a keyword (not left at their default)."""
        return self._given

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (converted and checked like keywords); the environment is not
        read again."""
        values = {name: getattr(self, name) for name in self.fields} | changes
        copy = type(self).__new__(type(self))
        problems: list[tuple[str, str]] = []
        for name, value in values.items():
            spec = self.fields.get(name)
            if spec is None:
                raise TypeError(f"{type(self).__name__} has no setting {name}")
            try:
                object.__setattr__(copy, name, spec.convert(value) if name in changes else value)
            except (TypeError, ValueError) as exc:
                problems.append((spec.variable or name, str(exc)))
        if problems:
            raise SettingsError(problems)
        object.__setattr__(copy, "_given", self.fields_set | set(changes))
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are read-only (frozen): {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are read-only (frozen): {name}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.fields)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Settings)
            and type(other) is type(self)
            and (other._values() == self._values())
        )

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields)
        return f"{type(self).__name__}({shown})"


def _is_settings(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Settings)


def _optional(kind: Any) -> bool:
    union = typing.get_origin(kind) in (typing.Union, types.UnionType)
    return union and type(None) in typing.get_args(kind)


def _base(kind: Any) -> Any:
    """``X`` of ``X | None``; the annotation itself otherwise."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else kind
    return kind


def _supported(kind: Any) -> bool:
    base = _base(kind)
    return base in (str, int, float, bool, Path, SecretStr) or (
        _is_settings(base) and not _optional(kind)
    )


def _convert(kind: Any, raw: Any) -> Any:
    if _optional(kind) and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    base = _base(kind)
    if raw is None:
        raise ValueError("must be set")
    if base is bool:
        return _boolean(raw)
    if base is int:
        return _integer(raw)
    if base is float:
        return _number(raw)
    if base is str:
        if not isinstance(raw, str):
            raise TypeError(f"must be a string, not {type(raw).__name__}")
        return raw
    if base is Path:
        if not isinstance(raw, str | os.PathLike):
            raise TypeError(f"must be a path, not {type(raw).__name__}")
        return Path(raw)
    if base is SecretStr:
        return raw if isinstance(raw, SecretStr) else SecretStr(raw)
    if isinstance(raw, base):  # a nested settings class
        return raw
    raise TypeError(f"must be {base.__name__}, not {type(raw).__name__}")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise ValueError(f"must be a boolean (true/false, 1/0, yes/no, on/off), not {raw!r}")


def _integer(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        return int(raw.strip())
    raise ValueError(f"must be a whole number, not {raw!r}")


def _number(raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number, not {raw!r}") from None
    else:
        raise ValueError(f"must be a number, not {raw!r}")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, not {raw!r}")
    return value
