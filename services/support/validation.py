"""Validation of what the caller sends, before anything reaches Salesforce.

Defaults (documented in ``docs/services.md``): ``category`` UNSPECIFIED → GENERAL and ``priority``
UNSPECIFIED → MEDIUM (a customer often has no opinion; Salesforce's own default is Medium).
Numbers outside the enums (possible over native gRPC) are refused.
"""

from __future__ import annotations

import unicodedata

from portal.support.v1 import support_pb2 as pb

from services.common.errors import FieldViolation, ValidationFailed
from services.common.idempotency import request_id_violation
from services.support.model import NewCase

SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000
COMMENT_MAX = 4_000

_CATEGORIES = frozenset(pb.CaseCategory.values())
_PRIORITIES = frozenset(pb.CasePriority.values())
_STATUSES = frozenset(pb.CaseStatus.values())
_MULTILINE_OK = frozenset("\n\r\t")


def _control_chars(text: str, *, multiline: bool) -> bool:
    allowed = _MULTILINE_OK if multiline else frozenset()
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def _subject(raw: str) -> tuple[str, FieldViolation | None]:
    subject = raw.strip()
    if not subject:
        return subject, FieldViolation("subject", "Please enter a subject.")
    if len(subject) > SUBJECT_MAX:
        return subject, FieldViolation("subject", f"At most {SUBJECT_MAX} characters.")
    if _control_chars(subject, multiline=False):
        return subject, FieldViolation("subject", "The subject must be a single line of text.")
    return subject, None


def _description(raw: str) -> FieldViolation | None:
    if len(raw) > DESCRIPTION_MAX:
        return FieldViolation("description", f"At most {DESCRIPTION_MAX} characters.")
    if _control_chars(raw, multiline=True):
        return FieldViolation("description", "The description contains invalid characters.")
    return None


def _enum(value: int, known: frozenset[int], field: str, default: int) -> tuple[int, list[str]]:
    if value not in known:
        return value, [field]
    return (value or default), []


def new_case(
    subject: str, description: str, category: int, priority: int, request_id: str = ""
) -> NewCase:
    """A valid :class:`NewCase` or :class:`ValidationFailed` listing every bad field."""
    clean_subject, bad_subject = _subject(subject)
    bad_request_id = request_id_violation(request_id, required=False)
    violations = [
        v for v in (bad_subject, _description(description), bad_request_id) if v is not None
    ]
    category, bad = _enum(category, _CATEGORIES, "category", pb.CASE_CATEGORY_GENERAL)
    violations += [FieldViolation(f, "Please choose a category from the list.") for f in bad]
    priority, bad = _enum(priority, _PRIORITIES, "priority", pb.CASE_PRIORITY_MEDIUM)
    violations += [FieldViolation(f, "Please choose a priority from the list.") for f in bad]
    if violations:
        raise ValidationFailed(violations[0].description, violations=violations)
    return NewCase(clean_subject, description, category, priority, request_id.strip())


def comment_body(body: str) -> str:
    """The body as the customer wrote it (stored verbatim), if it is 1 to 4000 characters."""
    if not body.strip():
        raise ValidationFailed.of("body", "Please enter a comment.")
    if len(body) > COMMENT_MAX:
        raise ValidationFailed.of("body", f"At most {COMMENT_MAX} characters.")
    if _control_chars(body, multiline=True):
        raise ValidationFailed.of("body", "The comment contains invalid characters.")
    return body


def status_filter(status: int) -> int:
    if status not in _STATUSES:
        raise ValidationFailed.of("status", "Unknown case status.")
    return status
