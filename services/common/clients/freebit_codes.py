"""Every Freebit result code the client knows, in one table (``docs/contracts/freebit.md``).

Only ``"100"`` (success) and the detail code ``400-356`` are public; the others follow the
sandbox's stand-ins and must be corrected here, in one place, against the partner spec.
A result is classified by its ``resultCode`` and detail ``status.statusCode``:

- success: ``resultCode == "100"``;
- auth-key failure: the client authenticates again once and repeats the call;
- unavailable (platform busy or broken): ``UpstreamUnavailable`` (retried for reads);
- everything else: a business rejection, :class:`FreebitRejected` with the codes and message.
"""

from __future__ import annotations

from services.common.errors import UpstreamRejected

SYSTEM = "freebit"
SUCCESS = "100"

# authKey missing/expired/revoked: authenticate again and repeat the call once.
AUTH_KEY_RESULT_CODES = frozenset({"211"})
AUTH_KEY_STATUS_CODES = frozenset({"401-002"})
# oemId/oemKey refused: our configuration is wrong, nothing the caller can do.
OEM_AUTH_STATUS_CODES = frozenset({"401-001"})
OEM_AUTH_RESULT_CODES = frozenset({"210"})
# Platform-side trouble: rate limited, system error.
UNAVAILABLE_RESULT_CODES = frozenset({"300", "500"})

# Detail codes worth a name for the fulfillment worker (Activation_Error_Code__c etc.).
BUSINESS: dict[str, str] = {
    "400-001": "BAD_JSON",
    "400-002": "MISSING_PARAMETER",
    "400-003": "BAD_FORMAT",
    "400-110": "UNKNOWN_PLAN",
    "400-310": "EID_IN_USE",
    "400-311": "PRODUCT_NUMBER_IN_USE",
    "400-312": "ACCOUNT_IN_USE",
    "400-320": "ACCOUNT_NOT_FOUND",
    "400-321": "ALREADY_CANCELLED",
    "400-322": "REISSUE_NEEDS_ACTIVE_LINE",
    "400-323": "CANCELLATION_PENDING",
    "400-324": "RUN_DATE_IN_THE_PAST",
    "400-356": "ALADIN_NEEDS_NEW_CONTRACT",
    "401-003": "MASTER_ACCOUNT_REFUSED",
}


class FreebitRejected(UpstreamRejected):
    """A business rejection: ``result_code`` (``resultCode``), ``upstream_code`` (the detail
    ``status.statusCode``, e.g. ``400-356``), ``name`` (from :data:`BUSINESS`, or ``""``) and
    ``detail`` (Freebit's message)."""

    def __init__(self, result_code: str, status_code: str, message: str) -> None:
        super().__init__(SYSTEM, status_code or result_code, message)
        self.result_code = result_code
        self.name = BUSINESS.get(status_code, "")


def is_auth_key_failure(result_code: str, status_code: str) -> bool:
    return result_code in AUTH_KEY_RESULT_CODES or status_code in AUTH_KEY_STATUS_CODES


def is_oem_auth_failure(result_code: str, status_code: str) -> bool:
    return result_code in OEM_AUTH_RESULT_CODES or status_code in OEM_AUTH_STATUS_CODES


def is_unavailable(result_code: str, status_code: str) -> bool:
    return (
        result_code in UNAVAILABLE_RESULT_CODES
        or status_code.startswith("5")
        or status_code.startswith("429")
    )
