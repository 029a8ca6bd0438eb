from portal.commerce.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderRecord(_message.Message):
    __slots__ = ("order", "modified_ms")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_MS_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.Order
    modified_ms: int
    def __init__(self, order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ..., modified_ms: _Optional[int] = ...) -> None: ...

class OrdersPageRecord(_message.Message):
    __slots__ = ("orders", "next_page_token", "offset", "size")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[OrderRecord]
    next_page_token: str
    offset: int
    size: int
    def __init__(self, orders: _Optional[_Iterable[_Union[OrderRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., offset: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...
