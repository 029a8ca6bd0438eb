from portal.commerce.v1 import catalog_pb2 as _catalog_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CatalogRecord(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CatalogItemRecord]
    def __init__(self, items: _Optional[_Iterable[_Union[CatalogItemRecord, _Mapping]]] = ...) -> None: ...

class CatalogItemRecord(_message.Message):
    __slots__ = ("product", "pricebook_entry_id", "sim_plan_code", "pricebook_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRICEBOOK_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SIM_PLAN_CODE_FIELD_NUMBER: _ClassVar[int]
    PRICEBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    product: _catalog_pb2.Product
    pricebook_entry_id: str
    sim_plan_code: str
    pricebook_id: str
    def __init__(self, product: _Optional[_Union[_catalog_pb2.Product, _Mapping]] = ..., pricebook_entry_id: _Optional[str] = ..., sim_plan_code: _Optional[str] = ..., pricebook_id: _Optional[str] = ...) -> None: ...
