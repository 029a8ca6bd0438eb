from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerLookupRecord(_message.Message):
    __slots__ = ("account_id", "name", "portal_status")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PORTAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    portal_status: str
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., portal_status: _Optional[str] = ...) -> None: ...
