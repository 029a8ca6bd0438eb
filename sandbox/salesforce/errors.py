"""Salesforce REST errors: always a JSON array of ``{"message", "errorCode", "fields"}``."""

from __future__ import annotations

from typing import Any


class SfError(Exception):
    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields or self.code not in _NO_FIELDS:
            item["fields"] = self.fields
        return [item]


_NO_FIELDS = frozenset(
    {
        "INVALID_SESSION_ID",
        "MALFORMED_QUERY",
        "NOT_FOUND",
        "REQUEST_LIMIT_EXCEEDED",
        "SERVER_UNAVAILABLE",
    }
)


def malformed_query(message: str) -> SfError:
    return SfError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str, fields: list[str] | None = None) -> SfError:
    return SfError(400, "INVALID_FIELD", message, fields)


def not_found(message: str = "The requested resource does not exist") -> SfError:
    return SfError(404, "NOT_FOUND", message)


class QueryError(SfError):
    """A MALFORMED_QUERY at a position of the query text."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(400, "MALFORMED_QUERY", reason)
        self.reason, self.column = reason, column


def shaped(text: str, column: int, reason: str) -> str:
    """Salesforce's MALFORMED_QUERY message: the query line, a caret, the position, the reason."""
    line = text.splitlines()[0] if text else ""
    return f"\n{line}\n{' ' * column}^\nERROR at Row:1:Column:{column + 1}\n{reason}"
