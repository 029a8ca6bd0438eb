import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_NEW: _ClassVar[CaseStatus]
    CASE_STATUS_WORKING: _ClassVar[CaseStatus]
    CASE_STATUS_ESCALATED: _ClassVar[CaseStatus]
    CASE_STATUS_CLOSED: _ClassVar[CaseStatus]

class CasePriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_PRIORITY_UNSPECIFIED: _ClassVar[CasePriority]
    CASE_PRIORITY_LOW: _ClassVar[CasePriority]
    CASE_PRIORITY_MEDIUM: _ClassVar[CasePriority]
    CASE_PRIORITY_HIGH: _ClassVar[CasePriority]

class CaseCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_CATEGORY_UNSPECIFIED: _ClassVar[CaseCategory]
    CASE_CATEGORY_BILLING: _ClassVar[CaseCategory]
    CASE_CATEGORY_TECHNICAL: _ClassVar[CaseCategory]
    CASE_CATEGORY_ORDER: _ClassVar[CaseCategory]
    CASE_CATEGORY_SIM: _ClassVar[CaseCategory]
    CASE_CATEGORY_GENERAL: _ClassVar[CaseCategory]
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_NEW: CaseStatus
CASE_STATUS_WORKING: CaseStatus
CASE_STATUS_ESCALATED: CaseStatus
CASE_STATUS_CLOSED: CaseStatus
CASE_PRIORITY_UNSPECIFIED: CasePriority
CASE_PRIORITY_LOW: CasePriority
CASE_PRIORITY_MEDIUM: CasePriority
CASE_PRIORITY_HIGH: CasePriority
CASE_CATEGORY_UNSPECIFIED: CaseCategory
CASE_CATEGORY_BILLING: CaseCategory
CASE_CATEGORY_TECHNICAL: CaseCategory
CASE_CATEGORY_ORDER: CaseCategory
CASE_CATEGORY_SIM: CaseCategory
CASE_CATEGORY_GENERAL: CaseCategory

class Case(_message.Message):
    __slots__ = ("id", "case_number", "subject", "description", "status", "priority", "category", "created_at", "comments")
    ID_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    case_number: str
    subject: str
    description: str
    status: CaseStatus
    priority: CasePriority
    category: CaseCategory
    created_at: _timestamp_pb2.Timestamp
    comments: _containers.RepeatedCompositeFieldContainer[CaseComment]
    def __init__(self, id: _Optional[str] = ..., case_number: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., priority: _Optional[_Union[CasePriority, str]] = ..., category: _Optional[_Union[CaseCategory, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., comments: _Optional[_Iterable[_Union[CaseComment, _Mapping]]] = ...) -> None: ...

class CaseComment(_message.Message):
    __slots__ = ("id", "body", "created_at", "from_customer")
    ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FROM_CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    id: str
    body: str
    created_at: _timestamp_pb2.Timestamp
    from_customer: bool
    def __init__(self, id: _Optional[str] = ..., body: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., from_customer: _Optional[bool] = ...) -> None: ...

class CreateCaseRequest(_message.Message):
    __slots__ = ("subject", "description", "category", "priority", "request_id")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    subject: str
    description: str
    category: CaseCategory
    priority: CasePriority
    request_id: str
    def __init__(self, subject: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[_Union[CaseCategory, str]] = ..., priority: _Optional[_Union[CasePriority, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: Case
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: CaseStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[CaseStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class GetCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: Case
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ...) -> None: ...

class AddCaseCommentRequest(_message.Message):
    __slots__ = ("case_id", "body")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    body: str
    def __init__(self, case_id: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class AddCaseCommentResponse(_message.Message):
    __slots__ = ("comment",)
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    comment: CaseComment
    def __init__(self, comment: _Optional[_Union[CaseComment, _Mapping]] = ...) -> None: ...
