"""Every Freebit result code and message the sandbox answers, in one table.

Only ``"100"`` (success) and the detail code ``400-356`` are known from public material; the rest
are the sandbox's stand-ins, kept here so they can be corrected against the partner spec at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    result_code: str  # "resultCode": "100" is success
    status_code: str  # "status.statusCode": "200", or a detail code like "400-356"
    message: str

    def body(self, **fields: Any) -> dict[str, Any]:
        status = {"message": self.message, "statusCode": self.status_code}
        return {"resultCode": self.result_code, "status": status, **fields}

    def formatted(self, **values: str) -> Result:
        return Result(self.result_code, self.status_code, self.message.format(**values))


OK = Result("100", "200", "OK")
# authentication
OEM_AUTH_FAILED = Result("210", "401-001", "oemId or oemKey is invalid")
AUTH_KEY_INVALID = Result("211", "401-002", "authKey is invalid or has expired")
MASTER_AUTH_FAILED = Result("212", "401-003", "masterAccount or masterPassword is invalid")
# request shape and formats
BAD_JSON = Result("400", "400-001", "json parameter is missing or is not a JSON object")
MISSING_PARAM = Result("400", "400-002", "required parameter is missing: {field}")
BAD_FORMAT = Result("400", "400-003", "parameter has an invalid format: {field}")
UNKNOWN_PLAN = Result("400", "400-110", "planCode is not available: {field}")
# business rules
DUPLICATE_EID = Result("400", "400-310", "the EID is already registered to a line")
DUPLICATE_PRODUCT = Result("400", "400-311", "the productNumber is already registered")
DUPLICATE_ACCOUNT = Result("400", "400-312", "the account is already registered")
ACCOUNT_NOT_FOUND = Result("400", "400-320", "the account does not exist")
ALREADY_CANCELLED = Result("400", "400-321", "the account is already cancelled")
CANCEL_PENDING = Result("400", "400-323", "a cancellation is already scheduled for the account")
RUN_DATE_PAST = Result("400", "400-324", "runDate is before today: {field}")
REISSUE_NOT_ACTIVE = Result("400", "400-322", "reissue needs an active line")
ALADIN_NEEDS_NEW = Result(
    "400", "400-356", "aladinOperated=10 can only be used with addKind=N (new contract)"
)
# platform
RATE_LIMITED = Result("300", "429-001", "too many requests, retry later")
SYSTEM_ERROR = Result("500", "500-001", "system error, retry later")

BY_STATUS_CODE: dict[str, Result] = {
    r.status_code: r
    for r in (
        OK, OEM_AUTH_FAILED, AUTH_KEY_INVALID, MASTER_AUTH_FAILED, BAD_JSON, MISSING_PARAM,
        BAD_FORMAT, UNKNOWN_PLAN, DUPLICATE_EID, DUPLICATE_PRODUCT, DUPLICATE_ACCOUNT,
        ACCOUNT_NOT_FOUND, ALREADY_CANCELLED, CANCEL_PENDING, RUN_DATE_PAST, REISSUE_NOT_ACTIVE,
        ALADIN_NEEDS_NEW, RATE_LIMITED, SYSTEM_ERROR,
    )
}  # fmt: skip


def lookup(code: str, message: str | None = None) -> Result:
    """A result for a fault knob: ``"400-356"`` (a detail code) or a bare ``"210"``."""
    known = BY_STATUS_CODE.get(code) or next(
        (r for r in BY_STATUS_CODE.values() if r.result_code == code), None
    )
    if known is not None:
        return Result(known.result_code, known.status_code, message or known.message)
    family = code.split("-", 1)[0]
    return Result(family, code, message or "business error")


class FreebitError(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result
