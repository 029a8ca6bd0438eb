from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountLinks(_message.Message):
    __slots__ = ("user_id", "whmcs_client_id", "sf_account_id", "customer_number", "email")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WHMCS_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SF_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    whmcs_client_id: int
    sf_account_id: str
    customer_number: str
    email: str
    def __init__(self, user_id: _Optional[str] = ..., whmcs_client_id: _Optional[int] = ..., sf_account_id: _Optional[str] = ..., customer_number: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class GetAccountLinksRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetAccountLinksResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: AccountLinks
    def __init__(self, links: _Optional[_Union[AccountLinks, _Mapping]] = ...) -> None: ...

class ListUsersBySalesforceAccountRequest(_message.Message):
    __slots__ = ("sf_account_id",)
    SF_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    sf_account_id: str
    def __init__(self, sf_account_id: _Optional[str] = ...) -> None: ...

class ListUsersBySalesforceAccountResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[AccountLinks]
    def __init__(self, links: _Optional[_Iterable[_Union[AccountLinks, _Mapping]]] = ...) -> None: ...

class GetUserByWhmcsClientRequest(_message.Message):
    __slots__ = ("whmcs_client_id",)
    WHMCS_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    whmcs_client_id: int
    def __init__(self, whmcs_client_id: _Optional[int] = ...) -> None: ...

class GetUserByWhmcsClientResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: AccountLinks
    def __init__(self, links: _Optional[_Union[AccountLinks, _Mapping]] = ...) -> None: ...
