"""The SOQL the support service sends. Every value goes through :func:`soql` (escaped literals);
the only values are ids we validated, the caller's account id and e-mail from identity, and fixed
picklist values: nothing the user typed."""

from __future__ import annotations

from portal.support.v1 import support_pb2 as pb

from services.common.clients.soql import soql
from services.support.mapping import STATUS_VALUE

# The fields of mapping.CASE_FIELDS / COMMENT_FIELDS (a unit test keeps them in step).
CASE_SELECT = (
    "SELECT Id, CaseNumber, Subject, Description, Status, IsClosed, Priority, Type, CreatedDate"
    " FROM Case"
)
COMMENT_SELECT = "SELECT Id, CommentBody, CreatedDate FROM CaseComment"


def contact_of(account_id: str, email: str) -> str:
    return soql(
        "SELECT Id FROM Contact WHERE AccountId = {} AND Email = {}"
        " ORDER BY CreatedDate ASC LIMIT 1",
        account_id,
        email,
    )


def case_of(account_id: str, case_id: str) -> str:
    return soql(CASE_SELECT + " WHERE Id = {} AND AccountId = {} LIMIT 1", case_id, account_id)


def cases_of(account_id: str, status: int, limit: int, offset: int) -> str:
    """One page, newest first; ``status`` UNSPECIFIED lists every case. CLOSED means any closed
    status (``IsClosed``), so a status an org adds later is still filtered correctly."""
    where = soql(" WHERE AccountId = {}", account_id)
    if status == pb.CASE_STATUS_CLOSED:
        where += " AND IsClosed = true"
    elif status != pb.CASE_STATUS_UNSPECIFIED:
        where += soql(" AND Status = {}", STATUS_VALUE[status])
    page = soql(" ORDER BY CreatedDate DESC, Id DESC LIMIT {} OFFSET {}", limit, offset)
    return CASE_SELECT + where + page


def published_comments(case_id: str) -> str:
    return soql(
        COMMENT_SELECT
        + " WHERE ParentId = {} AND IsPublished = true ORDER BY CreatedDate ASC, Id ASC",
        case_id,
    )
